"""The dental chart and tracing at scale: 1,000,000 findings over 50,000 people made with COPY
(about 20 dated findings each over three years), then "the chart as of a date" for random
people and dates through ``clinical.selectors.chart_as_of`` next to the floor (the same
DISTINCT ON query on the bare cursor). Tracing: 100,000 checked-out visits with one charge
line each, a fifth of them carried out under a treatment plan of the implant type, and the
trace query (``clinical.tracing.trace_lines`` by plan type and doctor over a quarter) next to
its raw-SQL floor.

    python -m benchmarks.clinical --people 50000 --findings 1000000
    python -m benchmarks.clinical --small

Ends with ``BENCH clinical people=… findings=… asof_p95_ms=… asof_floor_p95_ms=… trace_p95_ms=…
trace_floor_p95_ms=…``.
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

MARK = "bench-clinical"
TEETH = [q * 10 + t for q in (1, 2, 3, 4) for t in range(1, 9)]
KINDS = ["caries", "filled", "crown", "missing", "sound", "mobility", "pocket", "implant"]
SLOTS = {"mobility": "mobility", "pocket": "pocket"}
WHOLE = {"crown", "implant", "missing", "mobility", "pocket"}
FINDING_COLUMNS = (
    "member_id", "branch_id", "visit_id", "tooth", "surface", "kind", "slot", "mobility", "pockets", "note",
    "recorded_at", "recorded_by_id",
)  # fmt: skip
VISIT_COLUMNS = (
    "status", "opened_at", "list_total", "discount_total", "amount_due", "amount_paid", "points_earned",
    "manual_discount", "manual_discount_reason", "checkout_key", "checked_out_at", "voided_at", "void_reason",
    "appointment_id", "branch_id", "checked_out_by_id", "doctor_id", "member_id", "voided_by_id", "pricing_notes",
)  # fmt: skip
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _world():
    from django.contrib.auth import get_user_model

    from clinic import services
    from clinic.models import Branch, Role, ServiceCategory, ServiceItem

    branch = Branch.objects.get_or_create(code="BCL1", defaults={"name": "压测临床店"})[0]
    doctors = []
    for i in range(5):
        username = f"bench_clin_doc_{i}"
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user = services.staff_create(
                actor=None,
                username=username,
                password="Bench@2026!",
                full_name=f"压测医生{i}",
                role=Role.DOCTOR,
                branches=[branch],
            ).user
        doctors.append(user)
    category = ServiceCategory.objects.get_or_create(code="BIMPL", defaults={"name": "压测种植"})[0]
    item = ServiceItem.objects.get_or_create(
        code="BIM01",
        defaults={"name": "压测种植体", "category": category, "price": 6800, "duration_minutes": 60},
    )[0]
    return branch, doctors, item


def _findings(people: list[int], n: int, branch_id: int, doctor_id: int) -> None:
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM clinical_toothfinding WHERE branch_id = %s", [branch_id])
        have = cur.fetchone()[0]
    if have >= n:
        return
    rnd = random.Random(20)
    start = time.perf_counter()
    span = 3 * 365 * 86400

    def rows():
        for i in range(n - have):
            kind = rnd.choice(KINDS)
            surface = "" if kind in WHOLE else rnd.choice("MODBL")
            at = START + dt.timedelta(seconds=rnd.randrange(span))
            yield (
                people[i % len(people)], branch_id, None, rnd.choice(TEETH), surface, kind, SLOTS.get(kind, "condition"),
                rnd.randrange(4) if kind == "mobility" else None,
                "{" + ",".join(str(rnd.randrange(1, 8)) for _ in range(6)) + "}" if kind == "pocket" else "{}",
                "", at.isoformat(), doctor_id,
            )  # fmt: skip

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        copy_rows("clinical_toothfinding", FINDING_COLUMNS, rows())
        cur.execute("ANALYZE clinical_toothfinding")
    print(f"generated {n - have} findings in {time.perf_counter() - start:.1f}s", flush=True)


def _visits(people: list[int], n: int, branch, doctors, item) -> None:
    """Checked-out visits with one charge line each; every fifth carried out under an implant plan."""
    from django.db import connection, transaction

    from clinical.models import PlanType

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM appointments_visit WHERE branch_id = %s", [branch.pk])
        have = cur.fetchone()[0]
    if have >= n:
        return
    rnd = random.Random(21)
    start = time.perf_counter()
    span = 3 * 365 * 86400
    missing = n - have

    def visit_rows():
        for _ in range(missing):
            at = (START + dt.timedelta(seconds=rnd.randrange(span))).isoformat()
            yield (
                "checked_out", at, "6800.00", "0.00", "6800.00", "6800.00", 0, "0.00", "", None, at, None, "", None,
                branch.pk, None, rnd.choice(doctors).pk, people[rnd.randrange(len(people))], None, "[]",
            )  # fmt: skip

    implant = PlanType.objects.get(code="implant")
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("SELECT coalesce(max(id), 0) FROM appointments_visit")
        first = cur.fetchone()[0]
        copy_rows("appointments_visit", VISIT_COLUMNS, visit_rows())
        cur.execute(
            "INSERT INTO appointments_chargeline (quantity, unit_price, teeth, list_amount, discount_amount, net_amount, doctor_id, item_id, visit_id) "
            "SELECT 1, 6800, '{36}', 6800, 0, 6800, doctor_id, %s, id FROM appointments_visit WHERE id > %s AND branch_id = %s",
            [item.pk, first, branch.pk],
        )
        # One accepted implant plan per person treated under one, one item per such line.
        cur.execute(
            "INSERT INTO clinical_treatmentplan (member_id, branch_id, plan_type_id, doctor_id, title, version, status, "
            "estimated_weeks, needs_review, review_reasons, quote_total, created_at) "
            "SELECT DISTINCT ON (v.member_id) v.member_id, v.branch_id, %s, v.doctor_id, '压测种植方案', 1, 'accepted', 12, false, '[]', 6800, now() "
            "FROM appointments_visit v WHERE v.id > %s AND v.branch_id = %s AND v.id %% 5 = 0 "
            "AND NOT EXISTS (SELECT 1 FROM clinical_treatmentplan p WHERE p.member_id = v.member_id)",
            [implant.pk, first, branch.pk],
        )
        cur.execute(
            "INSERT INTO clinical_planphase (plan_id, \"order\", name) SELECT id, 1, '第一阶段' FROM clinical_treatmentplan p "
            "WHERE p.branch_id = %s AND NOT EXISTS (SELECT 1 FROM clinical_planphase f WHERE f.plan_id = p.id)",
            [branch.pk],
        )
        cur.execute(
            "WITH lines AS (SELECT l.id AS line_id, l.visit_id, p.id AS plan_id, f.id AS phase_id FROM appointments_chargeline l "
            "JOIN appointments_visit v ON v.id = l.visit_id JOIN clinical_treatmentplan p ON p.member_id = v.member_id "
            "JOIN clinical_planphase f ON f.plan_id = p.id WHERE v.id > %s AND v.branch_id = %s AND v.id %% 5 = 0), "
            "items AS (INSERT INTO clinical_planitem (plan_id, phase_id, item_id, teeth, quantity, unit_price, alternative_group, chosen, note) "
            "SELECT plan_id, phase_id, %s, '{36}', 1, 6800, '', true, line_id::text FROM lines RETURNING id, note) "
            "INSERT INTO clinical_planitemcharge (plan_item_id, charge_line_id, visit_id, created_at) "
            "SELECT items.id, lines.line_id, lines.visit_id, now() FROM items JOIN lines ON lines.line_id::text = items.note",
            [first, branch.pk, item.pk],
        )
        for table in (
            "appointments_visit",
            "appointments_chargeline",
            "clinical_planitemcharge",
            "clinical_planitem",
            "clinical_treatmentplan",
        ):
            cur.execute(f"ANALYZE {table}")
    print(
        f"generated {missing} visits with lines and plan links in {time.perf_counter() - start:.1f}s",
        flush=True,
    )


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--people", type=int, default=50_000)
    p.add_argument("--findings", type=int, default=1_000_000)
    p.add_argument("--visits", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=200)
    args = p.parse_args()
    if args.small:
        args.people, args.findings, args.visits, args.repeat = 2_000, 40_000, 5_000, 50
    setup_django()
    from django.contrib.auth import get_user_model

    from clinical import selectors, tracing
    from clinical.models import PlanType

    branch, doctors, item = _world()
    people = synthetic_people(
        args.people, branch.pk, mark=MARK, name="压测患者", stage="patient", phones=True
    )
    _findings(people, args.findings, branch.pk, doctors[0].pk)
    _visits(people, args.visits, branch, doctors, item)

    rnd = random.Random(7)
    cases = [
        (rnd.choice(people), START + dt.timedelta(days=rnd.randrange(3 * 365))) for _ in range(args.repeat)
    ]
    orm = time_calls_cases(lambda c: selectors.chart_as_of(*c), cases)
    floor = time_calls_cases(lambda c: selectors.chart_asof_sql(*c), cases)
    print(f"chart as of: orm {summary(orm)}  floor {summary(floor)}", flush=True)

    user = get_user_model().objects.filter(
        is_superuser=True
    ).first() or get_user_model().objects.create_superuser("bench_clin_admin", password="Bench@2026!")
    implant = PlanType.objects.get(code="implant")
    date_from, date_to = dt.date(2025, 1, 1), dt.date(2025, 3, 31)

    def trace():
        qs = tracing.trace_lines(
            user, date_from=date_from, date_to=date_to, values={"plan_type": implant, "doctor": doctors[1]}
        )
        return tracing.trace_rows(qs)

    from benchmarks._common import time_calls

    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) - dt.timedelta(hours=8)
    end = dt.datetime(2025, 4, 1, tzinfo=dt.UTC) - dt.timedelta(hours=8)
    trace_floor = raw_sql(
        "SELECT l.id, v.member_id, m.name, m.phone, l.teeth, v.checked_out_at FROM appointments_chargeline l "
        "JOIN appointments_visit v ON v.id = l.visit_id JOIN members_member m ON m.id = v.member_id "
        "WHERE v.status = 'checked_out' AND v.checked_out_at >= %s AND v.checked_out_at < %s AND l.doctor_id = %s "
        "AND EXISTS (SELECT 1 FROM clinical_planitemcharge c JOIN clinical_planitem i ON i.id = c.plan_item_id "
        "JOIN clinical_treatmentplan p ON p.id = i.plan_id WHERE c.charge_line_id = l.id AND p.plan_type_id = %s) "
        "ORDER BY v.checked_out_at, l.id",
        [start, end, doctors[1].pk, implant.pk],
    )
    found = len(trace())
    trace_orm = time_calls(trace, max(10, args.repeat // 5))
    trace_raw = time_calls(trace_floor, max(10, args.repeat // 5))
    print(f"trace ({found} people): orm {summary(trace_orm)}  floor {summary(trace_raw)}", flush=True)
    bench_line(
        "clinical",
        people=len(people),
        findings=args.findings,
        visits=args.visits,
        asof_p95_ms=p95(orm),
        asof_floor_p95_ms=p95(floor),
        asof_ratio=p95(orm) / max(p95(floor), 0.001),
        trace_people=found,
        trace_p95_ms=p95(trace_orm),
        trace_floor_p95_ms=p95(trace_raw),
        trace_ratio=p95(trace_orm) / max(p95(trace_raw), 0.001),
    )


def time_calls_cases(fn, cases) -> list[float]:
    for c in cases[:3]:
        fn(c)
    samples = []
    for c in cases:
        t = time.perf_counter()
        fn(c)
        samples.append((time.perf_counter() - t) * 1000)
    return samples


if __name__ == "__main__":
    main()
