"""The nightly recall and dormancy pass at scale, next to a raw-SQL floor from the same run:

1. People (COPY) and their checked-out visits (COPY), one charge line each (a cleaning for
   about two visits in five, else a filling), ``last_visit_at`` set from the visits.
2. The nightly pass on an empty recall table (the backfill a first run does): ``recalls_sync``
   (set-based INSERT … SELECT of every person's cleaning recall), ``recall_calls_make`` and
   ``reactivations_run`` (an episode for every dormant person and spend drop, and the day's
   tasks: 200 per branch by default, every one with ``--uncapped``). Timed.
3. A day later (today's checkouts, COPY) the nightly pass proper: the sync from two days
   before the last run, the phone tasks and the dormancy pass (``nightly_s``); then the same
   pass again: what it creates must be 0 (``second_run_created``, idempotent).
4. The floor: one bare aggregate over the same visits and lines (the scan the sync needs).
5. F1's work list benchmark (``benchmarks.followups_worklist.run_worklist``), when present.

    python -m benchmarks.followups            # 1,000,000 people, 5,000,000 visits
    python -m benchmarks.followups --small    # 20,000 people, 100,000 visits
    python -m benchmarks.followups --uncapped # every dormant person's task in the first pass
"""

from __future__ import annotations

import datetime as dt
import random
import time

from benchmarks._common import bench_line, copy_rows, parser, setup_django, synthetic_people

MARK = "followups-bench"
VISIT_COLUMNS = (
    "status", "opened_at", "list_total", "discount_total", "amount_due", "amount_paid", "points_earned",
    "manual_discount", "manual_discount_reason", "checkout_key", "checked_out_at", "voided_at", "void_reason",
    "appointment_id", "branch_id", "checked_out_by_id", "doctor_id", "member_id", "voided_by_id", "pricing_notes",
)  # fmt: skip


def _clinic():
    from django.contrib.auth import get_user_model

    from clinic import services
    from clinic.models import Branch, Role, ServiceCategory, ServiceItem
    from followups.models import RecallType

    branch, _ = Branch.objects.get_or_create(code="FUBENCH", defaults={"name": "回访基准门店"})
    user = get_user_model().objects.filter(username="bench_fu_doc").first()
    if user is None:
        user = services.staff_create(
            actor=None,
            username="bench_fu_doc",
            password=None,
            full_name="基准医生",
            role=Role.DOCTOR,
            branches=[branch],
        ).user
    cat, _ = ServiceCategory.objects.get_or_create(code="FUB", defaults={"name": "回访基准"})
    clean, _ = ServiceItem.objects.get_or_create(
        code="FUB1", defaults={"name": "基准洁牙", "category": cat, "price": 280}
    )
    fill, _ = ServiceItem.objects.get_or_create(
        code="FUB2", defaults={"name": "基准补牙", "category": cat, "price": 400}
    )
    RecallType.objects.get(code="cleaning").trigger_services.add(clean)
    return branch, user, clean, fill


def _visits(
    people: list[int], per_person: int, branch_id: int, doctor_id: int, clean_id: int, fill_id: int
) -> int:
    """``per_person`` visits on average for each person over the last three years (COPY),
    one charge line each (INSERT … SELECT over the new visits)."""
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM appointments_visit WHERE branch_id = %s", [branch_id])
        have = cur.fetchone()[0]
    want = len(people) * per_person
    if have >= want:
        return have
    rng = random.Random(14)
    now = dt.datetime.now(dt.UTC)
    span = 3 * 365 * 86400

    def rows():
        for _i in range(want - have):
            member = people[rng.randrange(len(people))]
            at = now - dt.timedelta(seconds=rng.randrange(span))
            amount = rng.choice(("280.00", "400.00", "1200.00", "80.00"))
            at_s = at.isoformat()
            yield (
                "checked_out", at_s, amount, "0", amount, amount, 0, "0", "", None, at_s, None, "", None,
                branch_id, None, doctor_id, member, None, "[]",
            )  # fmt: skip

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM appointments_visit")
        floor_id = cur.fetchone()[0]
        cur.execute("SET LOCAL session_replication_role = replica")
        copy_rows("appointments_visit", VISIT_COLUMNS, rows())
        cur.execute(
            """INSERT INTO appointments_chargeline (quantity, unit_price, teeth, list_amount, discount_amount,
                                                    net_amount, doctor_id, item_id, visit_id)
               SELECT 1, v.amount_paid, '{}', v.amount_paid, 0, v.amount_paid, v.doctor_id,
                      CASE WHEN v.id %% 5 < 2 THEN %s ELSE %s END, v.id
                 FROM appointments_visit v WHERE v.id > %s""",
            [clean_id, fill_id, floor_id],
        )
        cur.execute(
            """UPDATE members_member m SET last_visit_at = x.last
                 FROM (SELECT member_id, max(checked_out_at) AS last FROM appointments_visit
                        WHERE branch_id = %s GROUP BY member_id) x
                WHERE m.id = x.member_id""",
            [branch_id],
        )
        cur.execute("ANALYZE appointments_visit")
        cur.execute("ANALYZE appointments_chargeline")
        cur.execute("ANALYZE members_member")
    print(f"generated {want - have} visits in {time.perf_counter() - start:.1f}s", flush=True)
    return want


def _reset(branch_id: int) -> None:
    """Forget what an earlier run of the pass made, so the first pass is a real backfill."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "DELETE FROM followups_recallkeep WHERE recall_id IN (SELECT id FROM followups_recall WHERE branch_id = %s)",
            [branch_id],
        )
        cur.execute("DELETE FROM followups_reactivation WHERE branch_id = %s", [branch_id])
        cur.execute("DELETE FROM followups_recall WHERE branch_id = %s", [branch_id])
        cur.execute(
            "DELETE FROM followups_task WHERE branch_id = %s AND (kind = 'reactivation' OR source_key LIKE 'recall:%%')",
            [branch_id],
        )


def _pass(*, nightly: bool) -> tuple[float, int, dict]:
    """The beat job's body (``recall_tasks.recall_nightly``): the sync from two days before
    the last run (everything on the first), recall phone tasks, dormancy and spend drops."""
    from clinic.services import heartbeat_record
    from followups.dormancy import reactivations_run
    from followups.recall import NIGHTLY_JOB, recall_calls_make, recalls_sync, sync_since

    start = time.perf_counter()
    sync = recalls_sync(since=sync_since() if nightly else None)
    calls = recall_calls_make()
    react = reactivations_run()
    seconds = time.perf_counter() - start
    heartbeat_record(name=NIGHTLY_JOB)
    created = sync["created"] + sync["replayed"] + calls + react["episodes"] + react["tasks"]
    return seconds, created, {"sync": sync, "calls": calls, "reactivation": react}


def _a_day_of_visits(
    people: list[int], n: int, branch_id: int, doctor_id: int, clean_id: int, fill_id: int
) -> None:
    """Today's checkouts (COPY): ``n`` visits of random people, after the backfill."""
    from django.db import connection, transaction

    rng = random.Random(15)
    now = dt.datetime.now(dt.UTC)

    def rows():
        for _i in range(n):
            at = (now - dt.timedelta(seconds=rng.randrange(8 * 3600))).isoformat()
            yield (
                "checked_out", at, "280.00", "0", "280.00", "280.00", 0, "0", "", None, at, None, "", None,
                branch_id, None, doctor_id, people[rng.randrange(len(people))], None, "[]",
            )  # fmt: skip

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM appointments_visit")
        floor_id = cur.fetchone()[0]
        cur.execute("SET LOCAL session_replication_role = replica")
        copy_rows("appointments_visit", VISIT_COLUMNS, rows())
        cur.execute(
            """INSERT INTO appointments_chargeline (quantity, unit_price, teeth, list_amount, discount_amount,
                                                    net_amount, doctor_id, item_id, visit_id)
               SELECT 1, 280, '{}', 280, 0, 280, v.doctor_id, CASE WHEN v.id %% 5 < 2 THEN %s ELSE %s END, v.id
                 FROM appointments_visit v WHERE v.id > %s""",
            [clean_id, fill_id, floor_id],
        )
        cur.execute(
            """UPDATE members_member m SET last_visit_at = v.checked_out_at
                 FROM appointments_visit v WHERE v.id > %s AND m.id = v.member_id
                  AND (m.last_visit_at IS NULL OR m.last_visit_at < v.checked_out_at)""",
            [floor_id],
        )
        cur.execute("SELECT id FROM appointments_visit WHERE id > %s ORDER BY id", [floor_id])
        return [r[0] for r in cur.fetchall()]


def _checkouts_heard(visit_ids: list[int]) -> None:
    """What ``visit_completed`` does for recall at each checkout in the day (not timed)."""
    from appointments.models import Visit
    from followups.recall import recall_on_visit

    start = time.perf_counter()
    for pk in visit_ids:
        recall_on_visit(actor=None, visit=Visit(pk=pk))
    print(f"{len(visit_ids)} checkouts through the recall listener in {time.perf_counter() - start:.1f}s")


def _floor() -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            """SELECT v.member_id, max(v.checked_out_at) FROM appointments_visit v
                 JOIN appointments_chargeline l ON l.visit_id = v.id
                WHERE v.status = 'checked_out' GROUP BY v.member_id"""
        )
        cur.fetchall()
    return time.perf_counter() - start


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--uncapped",
        action="store_true",
        help="no daily cap on reactivation tasks (the whole backlog at once)",
    )
    p.add_argument("--members", type=int, default=0, help="another scale (five visits each)")
    args = p.parse_args()
    setup_django()
    from followups.dormancy import care_policy
    from followups.models import CarePolicy

    care_policy()
    CarePolicy.objects.filter(pk=1).update(reactivation_daily_cap=0 if args.uncapped else 200)
    members = args.members or (20_000 if args.small else 1_000_000)
    per_person = 5
    branch, doctor, clean, fill = _clinic()
    people = synthetic_people(members, branch.pk, mark=MARK, name="回访", stage="patient", phones=True)
    visits = _visits(people, per_person, branch.pk, doctor.pk, clean.pk, fill.pk)
    _reset(branch.pk)
    from clinic.models import JobHeartbeat
    from followups.recall import NIGHTLY_JOB

    JobHeartbeat.objects.filter(name=NIGHTLY_JOB).delete()
    backfill_s, backfill_created, backfill = _pass(nightly=False)
    print(
        f"first pass (go-live backfill): {backfill_s:.2f}s, created {backfill_created}: {backfill}",
        flush=True,
    )
    today = _a_day_of_visits(people, max(members // 1000, 100), branch.pk, doctor.pk, clean.pk, fill.pk)
    _checkouts_heard(today)
    first_s, first_created, first = _pass(nightly=True)
    print(
        f"nightly pass (a day's visits later): {first_s:.2f}s, created {first_created}: {first}", flush=True
    )
    second_s, second_created, second = _pass(nightly=True)
    print(f"nightly pass (again): {second_s:.2f}s, created {second_created}: {second}", flush=True)
    floor = _floor()
    print(f"raw-SQL floor (one aggregate over visits and lines): {floor:.2f}s; ratio {first_s / floor:.1f}x")
    extra = {}
    try:
        from benchmarks.followups_worklist import run_worklist
    except ImportError:
        print("benchmarks.followups_worklist is not there: work-list figures skipped")
    else:
        extra = run_worklist(args) or {}
    from followups.models import Task

    figures = {"members": members, "visits": visits}
    figures["open_tasks"] = extra.get("open_tasks", Task.objects.filter(status="open").count())
    if "worklist_p95_ms" in extra:
        figures["worklist_p95_ms"] = float(extra["worklist_p95_ms"])
    figures.update({"nightly_s": first_s, "second_run_created": second_created})
    print(f"backfill {backfill_s:.2f}s; second run {second_s:.2f}s; floor {floor:.2f}s", flush=True)
    bench_line("followups", **figures)


if __name__ == "__main__":
    main()
