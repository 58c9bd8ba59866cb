"""The people and visits behind a dashboard tile: the same conditions as the metric's SQL
(kpis.METRICS), as querysets, so the list's length equals the tile's number. Phones are
masked unless the viewer may reveal contacts (clinic.reveal_contact)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.money import format_cny
from clinic.phones import mask_phone

from . import kpis

PAGE = 200


@dataclass
class Row:
    when: object
    person: str
    phone: str
    detail: str
    member_id: int | None


def _bounds(lo, hi):
    return kpis.period_bounds(lo, hi)


def _appts(branch, lo, hi, condition: Q):
    from appointments.models import Appointment

    start, end = _bounds(lo, hi)
    qs = Appointment.objects.filter(branch=branch, start__gte=start, start__lt=end).filter(condition)
    return qs.select_related("member", "service").order_by("start", "id"), lambda a: (
        a.start,
        a.member,
        f"{a.service} · {a.get_status_display()}",
    )


def _visits(branch, lo, hi):
    from appointments.models import Visit

    start, end = _bounds(lo, hi)
    qs = Visit.objects.filter(
        branch=branch, status="checked_out", checked_out_at__gte=start, checked_out_at__lt=end
    )
    return qs.select_related("member").order_by("checked_out_at", "id"), lambda v: (
        v.checked_out_at,
        v.member,
        format_cny(v.amount_paid),
    )


def _members(branch, lo, hi):
    from members.models import Member

    start, end = _bounds(lo, hi)
    qs = Member.objects.filter(branch=branch, created_at__gte=start, created_at__lt=end).exclude(
        status="merged"
    )
    return qs.order_by("created_at", "id"), lambda m: (m.created_at, m, "")


def _enrolments(branch, lo, hi):
    from loyalty.models import Membership

    start, end = _bounds(lo, hi)
    qs = Membership.objects.filter(branch=branch, enrolled_at__gte=start, enrolled_at__lt=end)
    return qs.select_related("member", "tier").order_by("enrolled_at", "id"), lambda ms: (
        ms.enrolled_at,
        ms.member,
        f"{ms.card_no} · {ms.tier}",
    )


def _surveys(branch, lo, hi):
    from followups.recall_models import SurveyResponse

    qs = SurveyResponse.objects.filter(branch=branch, visit_on__gte=lo, visit_on__lt=hi)
    return qs.select_related("member").order_by("visit_on", "id"), lambda r: (
        r.visit_on,
        r.member,
        _("satisfied")
        if r.doctor_score + r.front_desk_score + r.environment_score + r.waiting_score >= 16
        else _("not satisfied"),
    )


def _followups(branch, lo, hi):
    from followups.models import Task

    qs = Task.objects.filter(branch=branch, kind="followup", due_on__gte=lo, due_on__lt=hi).exclude(
        status="cancelled"
    )
    return qs.select_related("member").order_by("due_on", "id"), lambda t: (
        t.due_on,
        t.member,
        f"{t.title} · {t.get_status_display()}",
    )


def _recalls(branch, lo, hi):
    from followups.recall_models import RecallKeep

    qs = RecallKeep.objects.filter(recall__branch=branch, kept_on__gte=lo, kept_on__lt=hi, voided_at=None)
    return qs.select_related("member", "recall__recall_type").order_by("kept_on", "id"), lambda k: (
        k.kept_on,
        k.member,
        f"{k.recall.recall_type} · {_('on time') if k.on_time else _('late')}",
    )


def _coupons(branch, lo, hi):
    from loyalty.coupon_models import Coupon

    start, end = _bounds(lo, hi)
    at_branch = Q(batch__branch=branch) | Q(batch__isnull=True, member__branch=branch)
    qs = Coupon.objects.filter(at_branch, issued_at__gte=start, issued_at__lt=end)
    return qs.select_related("member", "template").order_by("issued_at", "id"), lambda c: (
        c.issued_at,
        c.member,
        f"{c.template} · {_('used') if c.used_at and not c.voided_at else _('not used')}",
    )


def _complaints(branch, lo, hi):
    from complaints.models import Complaint

    start, end = _bounds(lo, hi)
    qs = Complaint.objects.filter(branch=branch, proposal_due_at__gt=start, proposal_due_at__lte=end).filter(
        Q(proposal_due_at__lte=timezone.now()) | Q(proposed_at__isnull=False)
    )
    return qs.select_related("member").order_by("proposal_due_at", "id"), lambda c: (
        c.proposal_due_at,
        c.member or _Contact(c.contact_name, c.contact_phone),
        f"{c.number} · {_('on time') if c.proposed_at and c.proposed_at <= c.proposal_due_at else _('late')}",
    )


@dataclass
class _Contact:
    """An anonymous complainant: a name and a phone, no record."""

    name: str
    phone: str
    pk: None = None


SHOWED = Q(status__in=["arrived", "in_treatment", "completed"])
SOURCES = {
    "visits": lambda b, lo, hi: _visits(b, lo, hi),
    "revenue": lambda b, lo, hi: _visits(b, lo, hi),
    "bookings": lambda b, lo, hi: _appts(b, lo, hi, ~Q(status="cancelled")),
    "showed": lambda b, lo, hi: _appts(b, lo, hi, SHOWED),
    "no_shows": lambda b, lo, hi: _appts(b, lo, hi, Q(status="no_show")),
    "no_show_rate": lambda b, lo, hi: _appts(b, lo, hi, SHOWED | Q(status="no_show")),
    "waiting": lambda b, lo, hi: _appts(b, lo, hi, Q(status="arrived")),
    "new_people": _members,
    "enrolments": _enrolments,
    "satisfaction": _surveys,
    "followups_on_time": _followups,
    "recall_compliance": _recalls,
    "coupon_redemption": _coupons,
    "complaint_sla": _complaints,
}
TITLES = {
    "waiting": _("Waiting now"),
    "showed": _("Arrived"),
    "no_shows": _("No-shows"),
}


def title(code: str):
    if code in kpis.KPIS:
        return kpis.KPIS[code].name
    return TITLES.get(code, code)


def _row(shape, obj, reveal: bool) -> Row:
    when, member, detail = shape(obj)
    if isinstance(when, dt.datetime):
        when = timezone.localtime(when)
    phone = getattr(member, "phone", "") or ""
    return Row(
        when=when,
        person=str(member.name) if member else "—",
        phone=(phone if reveal else mask_phone(phone)) if phone else "",
        detail=str(detail),
        member_id=member.pk if member else None,
    )


def rows(code: str, branch, lo: dt.date, hi: dt.date, *, reveal: bool) -> tuple[int, list[Row]]:
    """The total and the first ``PAGE`` rows (the page)."""
    qs, shape = SOURCES[code](branch, lo, hi)
    total = qs.count()
    return total, [_row(shape, obj, reveal) for obj in qs[:PAGE]]


def iter_rows(code: str, branch, lo: dt.date, hi: dt.date, *, reveal: bool):
    """Every row, streamed from the database in chunks (the exports)."""
    qs, shape = SOURCES[code](branch, lo, hi)
    for obj in qs.iterator(chunk_size=2000):
        yield _row(shape, obj, reveal)


__all__ = ["SOURCES", "F", "iter_rows", "rows", "title"]
