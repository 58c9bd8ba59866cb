"""The appointment's state machine: the transition table, the one locked transition that every
state service goes through (events, audit, cancelling pending reminders), and the no-show job."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.services import audit_record

from .. import conf
from ..errors import AppointmentError
from ..integration import notify_member
from ..models import Appointment, Reminder, ReminderStatus, Status
from .booking import _save_guarded
from .common import _event, _lock, _message_params

# action → (allowed from, to, timestamp field, audit verb)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str | None]] = {
    "confirm": (frozenset({Status.BOOKED}), Status.CONFIRMED, "confirmed_at"),
    # A late arrival after the no-show job still checks in (if the slot is still free).
    "arrive": (frozenset({Status.BOOKED, Status.CONFIRMED, Status.NO_SHOW}), Status.ARRIVED, "arrived_at"),
    "start_treatment": (frozenset({Status.ARRIVED}), Status.IN_TREATMENT, "treatment_started_at"),
    "complete": (frozenset({Status.ARRIVED, Status.IN_TREATMENT}), Status.COMPLETED, "completed_at"),
    "cancel": (
        frozenset({Status.BOOKED, Status.CONFIRMED, Status.ARRIVED}),
        Status.CANCELLED,
        "cancelled_at",
    ),
    "no_show": (frozenset({Status.BOOKED, Status.CONFIRMED}), Status.NO_SHOW, "no_show_at"),
}

# Literal codes, so that tests/clinic/test_labels.py finds each one and its label.
_AUDIT_ACTION = {
    "confirm": "appointments.booking.confirmed",
    "arrive": "appointments.booking.arrived",
    "start_treatment": "appointments.booking.treatment_started",
    "complete": "appointments.booking.completed",
    "cancel": "appointments.booking.cancelled",
    "no_show": "appointments.booking.no_show",
}


def _transition(*, actor, appointment: Appointment, action: str, detail: str = "", now=None) -> Appointment:
    allowed, to, stamp = TRANSITIONS[action]
    appt = _lock(appointment)
    if appt.status not in allowed:
        raise AppointmentError(_refusal(action, appt.get_status_display()), code="state")
    frm = appt.status
    appt.status = to
    fields = ["status"]
    if stamp:
        setattr(appt, stamp, now or timezone.now())
        fields.append(stamp)
    if action == "cancel":
        appt.cancelled_by = actor if getattr(actor, "pk", None) else None
        appt.cancel_reason = detail[:200]
        fields += ["cancelled_by", "cancel_reason"]
    _save_guarded(appt, override=False, member=appt.member, update_fields=fields)
    if to in (Status.CANCELLED, Status.NO_SHOW, Status.ARRIVED, Status.IN_TREATMENT, Status.COMPLETED):
        Reminder.objects.filter(appointment=appt, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.CANCELLED, processed_at=timezone.now()
        )
    _event(appt, action, actor=actor, frm=frm, to=to, detail=detail)
    audit_record(
        actor=actor,
        action=_AUDIT_ACTION[action],
        target=appt,
        changes={"status": [frm, to], **({"reason": detail} if detail else {})},
    )
    return appt


def _refusal(action: str, status_label) -> str:
    messages = {
        "confirm": _("Only a booked appointment can be confirmed (this one is %(status)s)."),
        "arrive": _("Only a booked or confirmed appointment can be checked in (this one is %(status)s)."),
        "start_treatment": _("Only a person who has arrived can start treatment (this one is %(status)s)."),
        "complete": _(
            "Only an arrived or in-treatment appointment can be completed (this one is %(status)s)."
        ),
        "cancel": _("This appointment is %(status)s and can no longer be cancelled."),
        "no_show": _("Only a booked or confirmed appointment can become a no-show (this one is %(status)s)."),
    }
    return messages[action] % {"status": status_label}


@transaction.atomic
def appointment_confirm(*, actor, appointment: Appointment) -> Appointment:
    """booked → confirmed (the person confirmed by phone or message)."""
    return _transition(actor=actor, appointment=appointment, action="confirm")


@transaction.atomic
def appointment_check_in(*, actor, appointment: Appointment, now: dt.datetime | None = None) -> Appointment:
    """booked/confirmed (or a late no-show) → arrived; the waiting clock starts.
    ``appointment_arrived`` after commit."""
    appt = _transition(actor=actor, appointment=appointment, action="arrive", now=now)
    from ..signals import appointment_arrived

    pk = appt.pk
    transaction.on_commit(
        lambda: appointment_arrived.send(sender=Appointment, appointment=Appointment.objects.get(pk=pk))
    )
    return appt


@transaction.atomic
def appointment_start_treatment(*, actor, appointment: Appointment) -> Appointment:
    """arrived → in treatment; opens the visit that will carry the charge lines."""
    appt = _transition(actor=actor, appointment=appointment, action="start_treatment")
    from ..checkout import visit_open

    visit_open(actor=actor, appointment=appt)
    return appt


@transaction.atomic
def appointment_complete(*, actor, appointment: Appointment) -> Appointment:
    return _transition(actor=actor, appointment=appointment, action="complete")


@transaction.atomic
def appointment_cancel(*, actor, appointment: Appointment, reason: str, notify: bool = True) -> Appointment:
    """→ cancelled, with who and why; the slot is free again at once."""
    reason = (reason or "").strip()
    if not reason:
        raise AppointmentError(_("Say why the appointment is cancelled."), field="reason")
    appt = _transition(actor=actor, appointment=appointment, action="cancel", detail=reason)
    if notify:
        notify_member(
            member=appt.member,
            template_key="appointments.cancelled",
            params=_message_params(appt),
            dedupe_key=f"appt:{appt.pk}:cancelled",
            branch=appt.branch,
            actor=actor,
        )
    return appt


def no_shows_mark(*, now: dt.datetime | None = None) -> int:
    """The beat job: booked/confirmed appointments whose start is more than the grace period
    ago become no-shows, one transaction each (a lock per row; a row checked in meanwhile is
    left alone). Returns how many were marked."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=conf.get("APPOINTMENTS_NO_SHOW_GRACE_MINUTES"))
    ids = list(
        Appointment.objects.filter(
            status__in=[Status.BOOKED, Status.CONFIRMED], start__lte=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    marked = 0
    for pk in ids:
        try:
            with transaction.atomic():
                _transition(actor=None, appointment=Appointment(pk=pk), action="no_show", now=now)
                marked += 1
        except AppointmentError:
            continue  # checked in or cancelled since the list was read
    return marked
