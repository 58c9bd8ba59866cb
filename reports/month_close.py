"""Month close (docs/reports.md): at month end each branch's KPI figures are frozen as a
snapshot (the ``month_close_due`` job on the 1st, or a manager closing by hand). A closed month
is never recomputed in place: its page shows the snapshot, the figure as it would be today and
the changes stamped after the close that explain the difference."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch
from clinic.services import audit_record

from . import dashboard, db, kpis, rollups, staff
from .close_models import MonthClose
from .errors import ReportsError

CLOSE_PERM = "reports.close_month"
VIEW_PERM = "reports.view_monthclose"


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    return first, dashboard._shift_month(first, 1)


def _month_metrics(branch: Branch, lo: dt.date, hi: dt.date) -> dict[str, Decimal]:
    """The month's additive metrics straight from the base tables (not the rollups: a close
    must not depend on the rollup job having run)."""
    out: dict[str, Decimal] = {}
    for code in kpis.METRICS:
        out[code] = sum(rollups.live(code, lo, hi, branch_ids=[branch.pk]).values(), Decimal(0))
    return out


def compute(branch: Branch, month: dt.date) -> tuple[dict[str, Decimal], dict[str, Decimal | None]]:
    """(metrics, figures) of one branch's month as they are now."""
    lo, hi = month_bounds(month)
    metrics = _month_metrics(branch, lo, hi)
    figures: dict[str, Decimal | None] = {}
    for code in dashboard.MONTH_KPIS:
        figures[code] = dashboard._kpi(code, metrics, lo, hi, branch.pk)
    return metrics, figures


def _dump(values: dict) -> dict:
    return {k: (None if v is None else str(v)) for k, v in values.items()}


def _load(values: dict) -> dict:
    return {k: (None if v is None else Decimal(v)) for k, v in values.items()}


def month_close(*, actor, branch: Branch, month: dt.date, today: dt.date | None = None) -> MonthClose:
    """Freeze one branch's month. Refused for a month that has not ended and for a month
    already closed (the first close stands)."""
    today = today or timezone.localdate()
    lo, hi = month_bounds(month)
    if hi > today:
        raise ReportsError(_("A month can be closed only after it has ended."), code="month_open")
    if MonthClose.objects.filter(branch=branch, month=lo).exists():
        raise ReportsError(_("This month is already closed."), code="already_closed")
    metrics, figures = compute(branch, lo)
    staff_figures = staff.dump(staff.performance(branch, lo, hi))
    try:
        with transaction.atomic():
            close = MonthClose.objects.create(
                branch=branch,
                month=lo,
                closed_at=timezone.now(),
                closed_by=actor if getattr(actor, "pk", None) else None,
                closed_by_name=(actor.get_full_name() or actor.get_username())[:150]
                if getattr(actor, "pk", None)
                else "",
                metrics=_dump(metrics),
                figures=_dump(figures),
                staff=staff_figures,
            )
            audit_record(
                actor=actor,
                action="reports.month.closed",
                target=close,
                branch=branch,
                changes={"month": f"{lo:%Y-%m}", "figures": _dump(figures)},
            )
    except IntegrityError:
        # Two closers at once: the unique constraint lets one win.
        raise ReportsError(_("This month is already closed."), code="already_closed") from None
    return close


def close_due_months(*, today: dt.date | None = None) -> int:
    """The job: close last month for every active branch that has not closed it, and e-mail
    the monthly report of each month it closed (``month_mail``). Returns how many months were
    closed; a second run closes none."""
    from .month_mail import monthly_report_send

    today = today or timezone.localdate()
    last_month = dashboard._shift_month(today.replace(day=1), -1)
    done = 0
    for branch in Branch.objects.filter(is_active=True).order_by("pk"):
        if MonthClose.objects.filter(branch=branch, month=last_month).exists():
            continue
        try:
            close = month_close(actor=None, branch=branch, month=last_month, today=today)
        except ReportsError:
            continue
        monthly_report_send(close=close)
        done += 1
    return done


@dataclass
class Line:
    code: str
    name: object
    kind: str
    closed: Decimal | None
    now: Decimal | None

    @property
    def changed(self) -> bool:
        return self.closed != self.now

    @property
    def difference(self) -> Decimal | None:
        if self.closed is None or self.now is None:
            return None
        return self.now - self.closed


def comparison(close: MonthClose) -> list[Line]:
    """Every KPI of the closed month: the snapshot and the figure as it would be today."""
    _metrics, now = compute(close.branch, close.month)
    frozen = _load(close.figures)
    out = []
    for code in dashboard.MONTH_KPIS:
        kpi = kpis.KPIS[code]
        # Points liability is a balance at a moment, not a figure of the month: its "today"
        # is the balance at the close.
        now_value = frozen.get(code) if code == "points_liability" else now.get(code)
        out.append(Line(code, kpi.name, dashboard.kind_of(kpi), frozen.get(code), now_value))
    return out


@dataclass
class Change:
    when: dt.datetime
    what: object
    member_id: int | None
    person: str
    detail: str


# (label, SQL returning (when, member_id, detail)) of the rows of a branch's month stamped
# after the close: the same tables and timestamps the incremental rollup reads.
def _change_queries() -> list[tuple[object, str]]:
    t = kpis._tables()
    day = "({} AT TIME ZONE %(tz)s)::date"
    in_month = "{} >= %(lo)s AND {} < %(hi)s"
    return [
        (
            _("Visit voided after the close"),
            f"SELECT voided_at, member_id, void_reason FROM {t['visit']} WHERE branch_id = %(b)s "
            f"AND {in_month.format(day.format('checked_out_at'), day.format('checked_out_at'))} "
            "AND voided_at > %(s)s",
        ),
        (
            _("Visit checked out after the close"),
            f"SELECT checked_out_at, member_id, '' FROM {t['visit']} WHERE branch_id = %(b)s "
            f"AND {in_month.format(day.format('checked_out_at'), day.format('checked_out_at'))} "
            "AND checked_out_at > %(s)s",
        ),
        (
            _("Appointment changed after the close"),
            f"SELECT GREATEST(created_at, confirmed_at, arrived_at, treatment_started_at, completed_at, "
            f"cancelled_at, no_show_at), member_id, status FROM {t['appt']} WHERE branch_id = %(b)s "
            f"AND {in_month.format(day.format('start'), day.format('start'))} "
            "AND GREATEST(created_at, confirmed_at, arrived_at, treatment_started_at, completed_at, "
            "cancelled_at, no_show_at) > %(s)s",
        ),
        (
            _("Customer record changed after the close"),
            f"SELECT updated_at, id, status FROM {t['member']} WHERE branch_id = %(b)s "
            f"AND {in_month.format(day.format('created_at'), day.format('created_at'))} AND updated_at > %(s)s",
        ),
        (
            _("Survey answered after the close"),
            f"SELECT answered_at, member_id, '' FROM {t['survey']} WHERE branch_id = %(b)s "
            "AND visit_on >= %(lo)s AND visit_on < %(hi)s AND answered_at > %(s)s",
        ),
        (
            _("Follow-up task changed after the close"),
            f"SELECT GREATEST(created_at, closed_at), member_id, status FROM {t['task']} "
            "WHERE branch_id = %(b)s AND kind = 'followup' AND due_on >= %(lo)s AND due_on < %(hi)s "
            "AND (created_at > %(s)s OR closed_at > %(s)s)",
        ),
        (
            _("Recall keep changed after the close"),
            f"SELECT GREATEST(k.created_at, k.voided_at), k.member_id, '' FROM {t['keep']} k "
            f"JOIN {t['recall']} r ON r.id = k.recall_id WHERE r.branch_id = %(b)s "
            "AND k.kept_on >= %(lo)s AND k.kept_on < %(hi)s AND (k.created_at > %(s)s OR k.voided_at > %(s)s)",
        ),
        (
            _("Coupon voided after the close"),
            f"SELECT c.voided_at, c.member_id, '' FROM {t['coupon']} c "
            f"LEFT JOIN {t['batch']} bt ON bt.id = c.batch_id "
            f"LEFT JOIN {t['member']} m ON m.id = c.member_id "
            "WHERE COALESCE(bt.branch_id, m.branch_id) = %(b)s AND c.voided_at > %(s)s AND ("
            f"({in_month.format(day.format('c.issued_at'), day.format('c.issued_at'))}) OR "
            f"({in_month.format(day.format('c.used_at'), day.format('c.used_at'))}))",
        ),
    ]


def _status_words() -> dict:
    """The stored status codes the change list shows, as the models' own labels."""
    from appointments.models import Status
    from followups.models import TaskStatus
    from members.models import MemberStatus

    words: dict = {}
    for choices in (MemberStatus, TaskStatus, Status):
        words.update(dict(choices.choices))
    return words


CHANGES_SHOWN = 500


def changes_since(close: MonthClose) -> list[Change]:
    """The rows of the closed month stamped after the close (latest first, at most
    ``CHANGES_SHOWN``): what explains a figure that differs from its snapshot."""
    from django.conf import settings

    from members.models import Member

    lo, hi = month_bounds(close.month)
    params = {"b": close.branch_id, "lo": lo, "hi": hi, "s": close.closed_at, "tz": settings.TIME_ZONE}
    found: list[tuple] = []
    with db.read_cursor() as cursor:
        for label, sql in _change_queries():
            cursor.execute(sql + f" LIMIT {CHANGES_SHOWN}", params)
            found.extend((when, label, member_id, detail) for when, member_id, detail in cursor.fetchall())
    found.sort(key=lambda r: r[0], reverse=True)
    found = found[:CHANGES_SHOWN]
    words = _status_words()
    names = dict(Member.objects.filter(pk__in={r[2] for r in found if r[2]}).values_list("pk", "name"))
    return [
        Change(
            when=timezone.localtime(when),
            what=label,
            member_id=member_id,
            person=names.get(member_id, "—"),
            detail=str(words.get(detail, detail or "")),
        )
        for when, label, member_id, detail in found
    ]


def months_of(branch: Branch, *, today: dt.date | None = None, count: int = 12) -> list[dict]:
    """The last ``count`` ended months of a branch with their close (or None)."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    months = [dashboard._shift_month(first, -i) for i in range(1, count + 1)]
    closes = {c.month: c for c in MonthClose.objects.filter(branch=branch, month__in=months)}
    return [{"month": m, "close": closes.get(m)} for m in months]
