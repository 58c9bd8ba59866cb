"""Helpers that every appointments service shares: how times and doctors are written in events and
messages, the timeline event row, the doctor check, the row lock on a booking, and the parameters
of the messages to the person."""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from clinic.models import Branch, Role
from clinic.selectors import staff_profile
from clinic.services import _actor_name

from ..errors import AppointmentError
from ..models import Appointment, AppointmentEvent


def _fmt(value: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(value), "Y-m-d H:i")


def _hm(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%H:%M")


def doctor_name(user) -> str:
    profile = staff_profile(user)
    return profile.full_name if profile else user.get_username()


def _event(appt: Appointment, action: str, *, actor, frm: str = "", to: str = "", detail: str = "") -> None:
    AppointmentEvent.objects.create(
        appointment=appt,
        member_id=appt.member_id,
        at=timezone.now(),
        action=action,
        from_status=frm,
        to_status=to,
        detail=detail[:255],
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=_actor_name(actor)[:150],
    )


def _check_doctor(doctor, branch: Branch) -> None:
    profile = staff_profile(doctor)
    if (
        profile is None
        or profile.role != Role.DOCTOR
        or not doctor.is_active
        or not profile.branches.filter(pk=branch.pk).exists()
    ):
        raise AppointmentError(
            _("%(name)s is not a doctor of this branch.") % {"name": doctor_name(doctor)}, field="doctor"
        )


def _lock(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("member", "branch", "doctor", "chair", "service")
        .get(pk=appointment.pk)
    )


def _message_params(appt: Appointment) -> dict[str, str]:
    return {
        "name": appt.member.name,
        "start": _fmt(appt.start),
        "doctor": doctor_name(appt.doctor),
        "service": appt.service.name,
        "branch": appt.branch.name,
        "phone": appt.branch.phone,
    }
