"""Reads of consultations, already scoped to what the user may see: a consultation belongs to
its branch (404 outside the user's branches, 403 without the permission); consultants list
their own, ``manage_consultations`` lists the branch."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import ServiceItem
from clinic.selectors import scope_to_branches

from .consultation_models import ArrivalNotice, Consultation
from .consultations import MANAGE_PERM, VIEW_PERM, can_edit

_RELATED = ("member", "channel", "consultant__staff", "branch", "appointment", "partner")


def consultations_for_user(user) -> QuerySet[Consultation]:
    if not user.has_perm(VIEW_PERM):
        return Consultation.objects.none()
    return scope_to_branches(Consultation.objects.all(), user).select_related(*_RELATED)


def consultation_list(
    user, *, mine: bool | None = None, q: str = "", outcome: str = "", open_only: bool = False
):
    qs = consultations_for_user(user)
    if mine or not user.has_perm(MANAGE_PERM):
        qs = qs.filter(consultant=user)
    if q:
        qs = qs.filter(Q(member__name__icontains=q) | Q(question__icontains=q))
    if outcome:
        qs = qs.filter(outcome=outcome)
    if open_only:
        qs = qs.filter(next_step_done_at__isnull=True, next_step_due__isnull=False)
    return qs.prefetch_related(
        Prefetch("services", queryset=ServiceItem.objects.only("id", "code", "name", "name_en"))
    )


def get_consultation_for_user(user, pk: int, *, write: bool = False) -> Consultation:
    """404 outside the user's branches, 403 when seen but not allowed (``write``: the
    consultant's own, or ``manage_consultations``)."""
    c = scope_to_branches(Consultation.objects.select_related(*_RELATED), user).filter(pk=pk).first()
    if c is None:
        raise Http404
    if not user.has_perm(VIEW_PERM) or (write and not can_edit(user, c)):
        raise PermissionDenied
    return c


def member_consultations(member, user, limit: int = 50) -> list[Consultation]:
    """A person's consultations as one thread, newest first (every branch's: the thread goes
    with the person, who is already in the user's scope)."""
    if not user.has_perm(VIEW_PERM):
        return []
    return list(
        Consultation.objects.filter(member=member)
        .select_related("channel", "consultant__staff", "branch", "appointment__service")
        .prefetch_related("services")
        .order_by("-at", "-id")[:limit]
    )


def arrival_notes(appointments, user) -> dict:
    """appointments.registry: each booked person's latest consultations (up to 2), for the
    front desk and triage, in one query."""
    from appointments.registry import ArrivalNote

    if not user.has_perm(VIEW_PERM):
        return {}
    by_member: dict[int, list] = {}
    member_ids = {a.member_id for a in appointments}
    rows = (
        Consultation.objects.filter(member_id__in=member_ids)
        .select_related("channel", "consultant__staff")
        .prefetch_related("services")
        .order_by("member_id", "-at", "-id")
    )
    for c in rows:
        by_member.setdefault(c.member_id, [])
        if len(by_member[c.member_id]) < 2:
            by_member[c.member_id].append(c)
    notes = {}
    for a in appointments:
        found = by_member.get(a.member_id)
        if not found:
            continue
        notes[a.pk] = [
            ArrivalNote(
                title=_("Consulted %(date)s via %(channel)s with %(consultant)s")
                % {
                    "date": timezone.localtime(c.at).strftime("%m-%d"),
                    "channel": c.channel.display_name,
                    "consultant": staff_name(c.consultant),
                },
                detail="；".join(
                    part
                    for part in (
                        "、".join(s.display_name for s in c.services.all()),
                        (c.question or "")[:60],
                    )
                    if part
                ),
                url=reverse("marketing:consult_detail", args=[c.pk]),
            )
            for c in found
        ]
    return notes


def staff_name(user) -> str:
    if user is None:
        return ""
    staff = getattr(user, "staff", None)
    return staff.full_name if staff else user.get_username()


def consultant_page(user, *, today: dt.date | None = None) -> dict:
    """The consultant's own figures (today and this month): consultations, bookings, arrivals,
    paid visits (each counted on the day it happened, of the user's consultations), the
    month's conversion (booked ÷ consulted of this month's consultations), the to-do list and
    unseen arrival notices."""
    today = today or timezone.localdate()
    month_start = today.replace(day=1)
    mine = Consultation.objects.filter(consultant=user)

    def counts(lo: dt.date, hi: dt.date) -> dict:
        return mine.aggregate(
            consultations=Count("id", filter=Q(on__gte=lo, on__lte=hi)),
            booked=Count("id", filter=Q(booked_on__gte=lo, booked_on__lte=hi)),
            arrived=Count("id", filter=Q(arrived_on__gte=lo, arrived_on__lte=hi)),
            paid=Count("id", filter=Q(paid_on__gte=lo, paid_on__lte=hi)),
        )

    cohort = mine.filter(on__gte=month_start, on__lte=today).aggregate(
        n=Count("id"), booked=Count("booked_on"), paid=Count("paid_on")
    )
    conversion = {
        "booked": (cohort["booked"] / cohort["n"] * 100) if cohort["n"] else None,
        "paid": (cohort["paid"] / cohort["n"] * 100) if cohort["n"] else None,
    }
    due = list(
        mine.filter(
            next_step_done_at__isnull=True,
            next_step_due__isnull=False,
            next_step_due__lte=today + dt.timedelta(days=7),
        )
        .select_related("member", "channel")
        .order_by("next_step_due", "at")[:100]
    )
    for c in due:
        c.overdue = c.next_step_due < today
        c.due_today = c.next_step_due == today
    notices = list(
        ArrivalNotice.objects.filter(consultant=user, seen_at__isnull=True)
        .select_related("consultation__member", "appointment__service", "appointment__doctor__staff")
        .order_by("-at")[:20]
    )
    recent = list(mine.select_related("member", "channel", "appointment").order_by("-at", "-id")[:10])
    return {
        "today": counts(today, today),
        "month": counts(month_start, today),
        "conversion": conversion,
        "due": due,
        "notices": notices,
        "recent": recent,
        "day": today,
        "month_start": month_start,
    }
