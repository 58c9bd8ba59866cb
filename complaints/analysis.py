"""The complaint analysis (seed 003: 对投诉数据进行分析，找出投诉的高发领域和原因; and 作为员工
绩效考核的重要依据): counts by category, severity, branch, staff and month; the on-time rates
of acknowledgement and proposal against their deadlines; the median working days from
receipt to resolution; repeat complainants; complaints per 1,000 checked-out visits.

All over the complaints the user may see (``complaints_for_user``) received in the last
``months`` months. Definitions are written out in docs/complaints.md."""

from __future__ import annotations

import datetime as dt
import statistics

from django.db.models import Count, F, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from clinic.workdays import working_days_between

from .models import Category, RootCause, Severity
from .selectors import complaints_for_user


def _rate(numerator: int, denominator: int) -> str:
    return f"{numerator * 100 / denominator:.0f}%" if denominator else "—"


def build(user, *, months: int = 12) -> dict:
    now = timezone.now()
    since = now - dt.timedelta(days=months * 31)
    qs = complaints_for_user(user).filter(received_at__gte=since)
    categories, severities, causes = dict(Category.choices), dict(Severity.choices), dict(RootCause.choices)
    by = lambda field: list(qs.values(field).annotate(n=Count("pk")).order_by("-n", field))  # noqa: E731
    by_category = [(categories.get(r["category"], r["category"]), r["n"]) for r in by("category")]
    by_severity = [(severities.get(r["severity"], r["severity"]), r["n"]) for r in by("severity")]
    by_cause = [
        (causes.get(r["root_cause"], r["root_cause"]), r["n"]) for r in by("root_cause") if r["root_cause"]
    ]
    by_branch_rows = list(qs.values("branch_id", "branch__name").annotate(n=Count("pk")).order_by("-n"))
    by_staff = [
        (r["staff__staff__full_name"] or "—", r["n"])
        for r in qs.filter(staff__isnull=False)
        .values("staff__staff__full_name")
        .annotate(n=Count("pk"))
        .order_by("-n")[:20]
    ]
    by_month = [
        (timezone.localtime(r["month"]).strftime("%Y-%m") if r["month"] else "", r["n"])
        for r in qs.annotate(month=TruncMonth("received_at"))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("month")
    ]
    ack_due = qs.filter(Q(acknowledged_at__isnull=False) | Q(ack_due_at__lte=now))
    ack_on_time = ack_due.filter(acknowledged_at__isnull=False, acknowledged_at__lte=F("ack_due_at")).count()
    proposal_due = qs.filter(Q(proposed_at__isnull=False) | Q(proposal_due_at__lte=now))
    proposal_on_time = proposal_due.filter(
        proposed_at__isnull=False, proposed_at__lte=F("proposal_due_at")
    ).count()
    resolved = list(
        qs.filter(resolved_at__isnull=False).values_list("received_at", "resolved_at", "branch_id")
    )
    days = [working_days_between(r, s, branch=b) for r, s, b in resolved]
    repeat = list(
        qs.filter(member__isnull=False)
        .values("member_id", "member__name")
        .annotate(n=Count("pk"))
        .filter(n__gte=2)
        .order_by("-n", "member__name")[:20]
    )
    from appointments.models import Visit, VisitStatus

    visits = dict(
        Visit.objects.filter(
            status=VisitStatus.CHECKED_OUT,
            checked_out_at__gte=since,
            branch_id__in=[r["branch_id"] for r in by_branch_rows],
        )
        .values("branch_id")
        .annotate(n=Count("pk"))
        .values_list("branch_id", "n")
    )
    by_branch = [
        (
            r["branch__name"],
            r["n"],
            f"{r['n'] * 1000 / visits[r['branch_id']]:.1f}" if visits.get(r["branch_id"]) else "—",
        )
        for r in by_branch_rows
    ]
    total = qs.count()
    total_visits = sum(visits.values())
    return {
        "total": total,
        "per_thousand": f"{total * 1000 / total_visits:.1f}" if total_visits else "—",
        "by_category": by_category,
        "by_severity": by_severity,
        "by_cause": by_cause,
        "by_branch": by_branch,
        "by_staff": by_staff,
        "by_month": by_month,
        "ack_rate": _rate(ack_on_time, ack_due.count()),
        "ack_counts": (ack_on_time, ack_due.count()),
        "proposal_rate": _rate(proposal_on_time, proposal_due.count()),
        "proposal_counts": (proposal_on_time, proposal_due.count()),
        "median_days": f"{statistics.median(days):g}" if days else "—",
        "resolved_count": len(days),
        "repeat": [(r["member__name"], r["n"]) for r in repeat],
    }
