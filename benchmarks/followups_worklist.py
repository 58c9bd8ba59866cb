"""The customer-service work list at scale: 200,000 open tasks (plus closed ones) made with
COPY over two branches, then the first page of each tab a customer-service person opens all
day (due today, overdue, mine) through ``followups.worklist.worklist_page``, next to the
floor: the same SQL run on the bare cursor in the same run. The tab counts (capped at 999)
are timed too.

    python -m benchmarks.followups_worklist --open-tasks 200000
    python -m benchmarks.followups_worklist --small

``run_worklist(args)`` returns ``{"open_tasks", "worklist_p95_ms", "worklist_floor_ms"}`` for
``benchmarks/followups.py`` to join into its BENCH line; run alone this prints
``BENCH followups_worklist open_tasks=<n> worklist_p95_ms=<x> worklist_floor_ms=<y> …``.
The target (issue 14) is p95 < 150 ms.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from benchmarks._common import (
    bench_line,
    copy_rows,
    p95,
    parser,
    raw_sql,
    setup_django,
    summary,
    synthetic_people,
)

MARK = "bench-followups"
KEY_PREFIX = "bench:worklist:"
STAFF_PER_BRANCH = 15
TASK_COLUMNS = (
    "kind", "member_id", "branch_id", "title", "channel", "script", "due_on", "assignee_id", "status",
    "source_key", "visit_id", "escalated_at", "closed_at", "created_at", "step_id", "occurrence",
    "attempts_count", "outcome", "satisfaction", "previous_id", "escalated_to_id", "close_reason",
    "closed_by_id",
)  # fmt: skip
KINDS = ["followup"] * 5 + ["recall"] * 3 + ["reactivation", "survey"]
TITLES = ["拔牙术后第1天回访", "种植术后第7天回访", "洁牙复诊提醒", "沉睡客户唤醒", "满意度回访"]


def _branches():
    from clinic.models import Branch

    return [
        Branch.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in (("BFW1", "压测一店"), ("BFW2", "压测二店"))
    ]


def _staff(branch, n: int) -> list:
    from django.contrib.auth import get_user_model

    from clinic import services
    from clinic.models import Role

    users = []
    for i in range(n):
        username = f"bench_cs_{branch.code.lower()}_{i}"
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user = services.staff_create(
                actor=None,
                username=username,
                password="Bench@2026!",
                full_name=f"压测客服{i}",
                role=Role.CUSTOMER_SERVICE,
                branches=[branch],
            ).user
        users.append(user)
    return users


def _generate(n_open: int, n_closed: int, branches, staff, people) -> None:
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM followups_task WHERE source_key LIKE %s", [KEY_PREFIX + "%"])
        have = cursor.fetchone()[0]
    if have >= n_open + n_closed:
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM followups_task WHERE source_key LIKE %s", [KEY_PREFIX + "%"])
    rng = random.Random(14)
    today = dt.date.today()
    now = dt.datetime.now(dt.UTC).isoformat()

    def rows():
        for i in range(n_open + n_closed):
            b = i % len(branches)
            is_open = i < n_open
            # Due dates from 60 days ago to 90 days ahead; a few per cent unassigned.
            due = today + dt.timedelta(days=rng.randint(-60, 90))
            assignee = None if rng.random() < 0.05 else rng.choice(staff[b]).pk
            yield (
                rng.choice(KINDS), rng.choice(people[b]), branches[b].pk, rng.choice(TITLES), "phone", "",
                due.isoformat(), assignee, "open" if is_open else "done", f"{KEY_PREFIX}{i}", None,
                None, None if is_open else now, now, None, 1, 0, "", None, None, None, "", None,
            )  # fmt: skip

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        copy_rows("followups_task", TASK_COLUMNS, rows())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE followups_task")
    print(
        f"generated {n_open} open + {n_closed} closed tasks in {time.perf_counter() - start:.1f}s", flush=True
    )


def _time_pair(fn, sql_fn, repeat: int) -> tuple[list[float], list[float]]:
    """Interleaved timings of the ORM call and its raw SQL, so both see the same cache."""
    for _ in range(3):
        fn()
        sql_fn()
    orm, floor = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        orm.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        sql_fn()
        floor.append((time.perf_counter() - t) * 1000)
    return orm, floor


def run_worklist(args) -> dict:
    """Generate (once) and measure; returns the figures for the joined BENCH line."""
    from django.db import connection
    from django.utils import timezone

    from followups import worklist
    from followups.models import Task

    n_open = getattr(args, "open_tasks", 200_000)
    repeat = getattr(args, "repeat", 50)
    branches = _branches()
    staff = [_staff(b, STAFF_PER_BRANCH) for b in branches]
    people = [
        synthetic_people(
            20_000 if n_open >= 50_000 else 2_000, b.pk, mark=MARK, name="回访", stage="patient", phones=True
        )
        for b in branches
    ]
    _generate(n_open, n_open // 4, branches, staff, people)
    open_tasks = Task.objects.filter(status="open", source_key__startswith=KEY_PREFIX).count()
    user = staff[0][0]
    today = timezone.localdate()
    worst, worst_floor = 0.0, 0.0
    for tab in (worklist.Tab.TODAY, worklist.Tab.OVERDUE, worklist.Tab.MINE):

        def page(tab=tab):
            return worklist.worklist_page(user, tab=tab, today=today).rows

        qs = (
            worklist.open_tasks(user)
            .filter(worklist._tab_filter(tab, user, today))
            .select_related("member", "branch", "assignee__staff")
            .order_by("due_on", "id")[: worklist.PAGE_SIZE + 1]
        )
        sql, params = qs.query.sql_with_params()
        rows = len(page())
        orm, floor = _time_pair(page, raw_sql(sql, params), repeat)
        print(f"  {tab:<8} rows={rows:<3} orm {summary(orm)}   raw SQL {summary(floor)}", flush=True)
        worst, worst_floor = max(worst, p95(orm)), max(worst_floor, p95(floor))
    counts, _unused = _time_pair(lambda: worklist.tab_counts(user, today=today), lambda: None, repeat)
    print(f"  tab counts (5, capped at {worklist.COUNT_CAP}): {summary(counts)}", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT id FROM followups_task WHERE branch_id = %s AND status = 'open' AND due_on < %s "
            "ORDER BY due_on, id LIMIT 51",
            [branches[0].pk, today],
        )
        print("  overdue plan: " + " / ".join(r[0].strip() for r in cursor.fetchall()[:3]), flush=True)
    return {"open_tasks": open_tasks, "worklist_p95_ms": worst, "worklist_floor_ms": worst_floor}


def main() -> None:
    p = parser("Follow-up work list benchmark")
    p.add_argument("--open-tasks", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=50)
    args = p.parse_args()
    if args.small:
        args.open_tasks, args.repeat = 20_000, 20
    setup_django()
    figures = run_worklist(args)
    bench_line(
        "followups_worklist",
        **figures,
        ratio=figures["worklist_p95_ms"] / figures["worklist_floor_ms"]
        if figures["worklist_floor_ms"]
        else 0.0,
    )


if __name__ == "__main__":
    main()
