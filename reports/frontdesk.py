"""The front desk's start page (前台, docs/reports.md): today's bookings by state, who is
waiting and for how long (arrived, not yet in treatment), arrivals still to check out, and
the people booked today who are due a recall or a follow-up. Read-only: the board itself is
appointments' ``today_board``; the counts here are the same rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

VIEW_PERM = "reports.view_front_desk_board"
# A recall due within this many days (or overdue) counts as "due" for someone booked today.
RECALL_SOON_DAYS = 30


@dataclass
class DueItem:
    appointment: object
    what: list[str]


def front_desk_board(branch, *, now: dt.datetime | None = None) -> dict:
    from appointments.models import Status, Visit, VisitStatus
    from appointments.schedule import day_bounds
    from appointments.selectors import today_board
    from followups.models import Task, TaskStatus
    from followups.recall_models import Recall

    now = now or timezone.now()
    today = timezone.localtime(now).date()
    board = today_board(branch, now=now)
    everyone = [a for rows in board.values() for a in rows]
    counts = dict.fromkeys(Status.values, 0)
    for a in everyone:
        counts[a.status] += 1
    states = [(value, label, counts[value]) for value, label in Status.choices]
    waiting = sorted(board["waiting"], key=lambda a: -a.waited_minutes)
    # Arrived today and not yet paid: the visit is open, or none was opened yet.
    arrived = board["waiting"] + board["in_treatment"] + board["done"]
    to_check_out = [
        a for a in arrived if getattr(a, "visit", None) is None or a.visit.status == VisitStatus.OPEN
    ]
    lo, hi = day_bounds(today)
    walk_ins = list(
        Visit.objects.filter(
            branch=branch,
            status=VisitStatus.OPEN,
            appointment__isnull=True,
            opened_at__gte=lo,
            opened_at__lt=hi,
        )
        .select_related("member", "doctor__staff")
        .order_by("opened_at")
    )
    # Booked today (not cancelled, not a no-show) and due a recall or an open follow-up.
    booked = [a for a in everyone if a.status not in (Status.CANCELLED, Status.NO_SHOW)]
    member_ids = {a.member_id for a in booked}
    recalls: dict[int, list[str]] = {}
    for r in Recall.objects.filter(
        member_id__in=member_ids, is_active=True, due_on__lte=today + dt.timedelta(days=RECALL_SOON_DAYS)
    ).select_related("recall_type"):
        recalls.setdefault(r.member_id, []).append(f"{r.recall_type} · {r.due_on:%m-%d}")
    for t in Task.objects.filter(
        member_id__in=member_ids, status=TaskStatus.OPEN, due_on__lte=today, kind__in=("followup", "recall")
    ):
        recalls.setdefault(t.member_id, []).append(f"{t.title} · {t.due_on:%m-%d}")
    due, seen = [], set()
    for a in booked:
        if a.member_id in recalls and a.member_id not in seen:
            seen.add(a.member_id)
            due.append(DueItem(a, recalls[a.member_id]))
    return {
        "today": today,
        "states": states,
        "total": sum(c for s, c in counts.items() if s != Status.CANCELLED),
        "waiting": waiting,
        "to_check_out": to_check_out,
        "walk_ins": walk_ins,
        "checkout_count": len(to_check_out) + len(walk_ins),
        "due": due,
    }
