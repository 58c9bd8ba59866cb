"""The consultation funnel at scale, next to a raw-SQL floor from the same run.

1,000,000 consultations over two years at three branches (channels, consultants and partners
spread, each with its stage dates and revenue as the services keep them) and 5,000,000
checked-out visits, all made with COPY. Measured: the funnel for the last year by channel ×
month over every branch (HQ's view: ``marketing.funnel.funnel`` + the row labels, what the
page does), p95 of many runs, and one branch's year.

Two floors, both raw SQL in the same run: the *plan floor* runs the very statements the
funnel runs (the dirty months, the rollup's sums and lag histograms of the whole past months,
the live scan of the current month) through the bare cursor, without the merge, the medians,
the labels or any Python object: ``funnel_floor_ratio`` is against it.
The *table floor* is the cheapest query over the consultations themselves (one scan of the
year, plain counts): what any funnel without a rollup would at least cost. The rollup's
rebuild time (all months, as after a bulk load) is printed too.

    python -m benchmarks.marketing            # 1,000,000 consultations, 5,000,000 visits
    python -m benchmarks.marketing --small    # 20,000 consultations, 100,000 visits (make bench)

Segments (issue 16): ``segment_members`` people of one branch (COPY, 1,000,000; 20,000 with
--small), half with a paid visit in the year; ``segment_count_ms`` is the p95 of counting a
segment (stage, gender, age and birthday month) through ``segment_selectors``, printed beside
the raw-SQL floor (the same conditions by hand) and the four-quadrant breakdown of everyone.
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
    time_calls,
)

MARK = "marketing-bench"
BRANCHES = 3
CONSULTANTS = 12

CONSULTATION_COLUMNS = (
    "branch_id", "member_id", "channel_id", "consultant_id", "at", "on", "question", "quote",
    "outcome", "outcome_reason", "next_step", "next_step_due", "next_step_done_at", "partner_id",
    "referrer_id", "appointment_id", "booked_on", "arrived_on", "paid_on", "enrolled_on",
    "revenue", "closed_at", "created_by_id", "created_at", "updated_at",
)  # fmt: skip
VISIT_COLUMNS = (
    "status", "opened_at", "list_total", "discount_total", "amount_due", "amount_paid",
    "points_earned", "manual_discount", "manual_discount_reason", "checkout_key",
    "checked_out_at", "voided_at", "void_reason", "appointment_id", "branch_id",
    "checked_out_by_id", "doctor_id", "member_id", "voided_by_id", "pricing_notes",
)  # fmt: skip


def _setup():
    """Three bench branches, consultants and a doctor at each, five partners per branch."""
    from django.contrib.auth import get_user_model

    from clinic import services
    from clinic.models import Branch, Role
    from marketing.consultation_models import ConsultationChannel
    from marketing.models import Partner

    User = get_user_model()
    branches = [
        Branch.objects.get_or_create(code=f"MKB{i}", defaults={"name": f"漏斗基准门店{i}"})[0]
        for i in range(BRANCHES)
    ]

    def staff(username, role, branch):
        user = User.objects.filter(username=username).first()
        return (
            user
            or services.staff_create(
                actor=None, username=username, password=None, full_name=username, role=role, branches=[branch]
            ).user
        )

    consultants = [
        staff(f"mkb_consult{i}", Role.CONSULTANT, branches[i % BRANCHES]) for i in range(CONSULTANTS)
    ]
    doctors = [staff(f"mkb_doc{i}", Role.DOCTOR, b) for i, b in enumerate(branches)]
    partners = [
        Partner.objects.get_or_create(branch=b, name=f"基准单位{i}", defaults={"kind": "company"})[0]
        for b in branches
        for i in range(5)
    ]
    channels = list(ConsultationChannel.objects.values_list("pk", flat=True))
    return branches, consultants, doctors, partners, channels


def _count(table: str, where: str = "", params=()) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} {where}", list(params))
        return cursor.fetchone()[0]


def make_consultations(n, branches, consultants, partners, channels, people, today) -> int:
    """``n`` consultations over the two years before ``today`` (skips what an earlier run made)."""
    from django.db import connection, transaction

    branch_ids = [b.pk for b in branches]
    have = _count("marketing_consultation", "WHERE branch_id = ANY(%s)", [branch_ids])
    if have >= n:
        return have
    start = time.perf_counter()
    rng = random.Random(13)
    by_branch = {b: [c.pk for c in consultants if c.staff.branches.filter(pk=b).exists()] for b in branch_ids}
    partner_by_branch = {b: [p.pk for p in partners if p.branch_id == b] for b in branch_ids}
    epoch = today - dt.timedelta(days=730)
    now = dt.datetime.now(dt.UTC).isoformat()

    def rows():
        for i in range(n - have):
            branch = branch_ids[i % len(branch_ids)]
            day = epoch + dt.timedelta(days=rng.randrange(730))
            at = f"{day.isoformat()} {rng.randrange(9, 20):02d}:{rng.randrange(60):02d}:00+08"
            booked = arrived = paid = enrolled = None
            revenue = "0"
            outcome = "considering"
            r = rng.random()
            if r < 0.45:
                outcome = "booked"
                booked = day + dt.timedelta(days=rng.randrange(3))
                if rng.random() < 0.8:
                    arrived = booked + dt.timedelta(days=rng.randrange(1, 10))
                    if rng.random() < 0.75:
                        paid = arrived + dt.timedelta(days=rng.randrange(2))
                        revenue = f"{rng.randrange(50, 20000)}.00"
                        if rng.random() < 0.3:
                            enrolled = paid + dt.timedelta(days=rng.randrange(3))
            elif r < 0.6:
                outcome = "price"
            partner = rng.choice(partner_by_branch[branch]) if rng.random() < 0.1 else None
            yield (
                branch, people[i % len(people)], rng.choice(channels), rng.choice(by_branch[branch]), at,
                day.isoformat(), "基准咨询", None, outcome, "", "", None, None, partner, None, None,
                booked, arrived, paid, enrolled, revenue, None, None, now, now,
            )  # fmt: skip

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # no history, no FK triggers
        copy_rows("marketing_consultation", [f'"{c}"' for c in CONSULTATION_COLUMNS], rows())
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) marketing_consultation")
    print(f"generated {n - have} consultations in {time.perf_counter() - start:.1f}s", flush=True)
    return n


def make_visits(n, branches, doctors, people, today) -> int:
    """``n`` checked-out visits over the same two years."""
    from django.db import connection, transaction

    branch_ids = [b.pk for b in branches]
    have = _count("appointments_visit", "WHERE branch_id = ANY(%s)", [branch_ids])
    if have >= n:
        return have
    start = time.perf_counter()
    rng = random.Random(17)
    doctor_of = {b.pk: d.pk for b, d in zip(branches, doctors, strict=True)}
    epoch = dt.datetime.combine(today - dt.timedelta(days=730), dt.time(1), tzinfo=dt.UTC).timestamp()

    def rows():
        for i in range(n - have):
            branch = branch_ids[i % len(branch_ids)]
            at = dt.datetime.fromtimestamp(epoch + rng.randrange(730 * 86400), dt.UTC).isoformat()
            amount = f"{rng.randrange(50, 5000)}.00"
            yield (
                "checked_out", at, amount, "0.00", amount, amount, 0, "0.00", "", None, at, None, "",
                None, branch, None, doctor_of[branch], people[i % len(people)], None, "[]",
            )  # fmt: skip

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        copy_rows("appointments_visit", VISIT_COLUMNS, rows())
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) appointments_visit")
    print(f"generated {n - have} visits in {time.perf_counter() - start:.1f}s", flush=True)
    return n


SEGMENT_MARK = "segment-bench"
SEGMENT_FILTERS = {
    "stages": ["patient", "member"],
    "genders": ["F"],
    "age_min": 25,
    "age_max": 55,
    "birth_months": [3, 4, 5],
}


def make_segment_people(n: int, branch_id: int, today) -> list[int]:
    """``n`` people at one branch with varied gender, birth date and stage (COPY; history
    triggers off), a paid visit in the last year for every other one. Reused by later runs."""
    from django.db import connection, transaction

    from benchmarks._common import MEMBER_COLUMNS

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM members_member WHERE other_contacts = %s", [SEGMENT_MARK])
        have = cursor.fetchone()[0]
    if have < n:
        start = time.perf_counter()
        rng = random.Random(16)
        now = dt.datetime.now(dt.UTC).isoformat()

        def rows():
            for i in range(have, n):
                born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 30_000))
                stage = ("lead", "patient", "member")[i % 3]
                yield (
                    f"分群{i % 1000}", "MF"[i % 2], born.isoformat(), "", SEGMENT_MARK, "", "", "", "", "", "",
                    "", branch_id, None, None, stage, "active", "zh-hans", None, "f", "", "", "", "f", None,
                    now, now, "", "", "", "", "{}",
                )  # fmt: skip

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            copy_rows("members_member", MEMBER_COLUMNS, rows())
            cursor.execute(
                "INSERT INTO loyalty_purchase (member_id, branch_id, source_key, amount, eligible_by_category,"
                " counts_as_visit, visits, occurred_at, recorded_at)"
                " SELECT id, branch_id, 'segbench:' || id, (id %% 5000) + 100, '{}', true, 1 + id %% 6,"
                " now() - make_interval(days => (id %% 360)::int), now()"
                " FROM members_member WHERE other_contacts = %s AND id %% 2 = 0"
                " ON CONFLICT DO NOTHING",
                [SEGMENT_MARK],
            )
            cursor.execute("ANALYZE members_member")
            cursor.execute("ANALYZE loyalty_purchase")
        print(f"generated {n - have} segment people in {time.perf_counter() - start:.1f}s", flush=True)
    return n


def segment_bench(small: bool, today) -> dict:
    """A segment count over ``segment_members`` people of one branch, against the raw-SQL
    floor (the same conditions written by hand, one count)."""
    from clinic.models import Branch
    from marketing.segment_selectors import Scope, segment_count, segment_quadrant_counts

    n = 20_000 if small else 1_000_000
    samples = 20 if small else 30
    branch = Branch.objects.get_or_create(code="MKSEG", defaults={"name": "分群基准门店"})[0]
    make_segment_people(n, branch.pk, today)
    scope = Scope(frozenset({branch.pk}))
    count = segment_count(SEGMENT_FILTERS, scope=scope)
    count_ms = time_calls(lambda: segment_count(SEGMENT_FILTERS, scope=scope), repeat=samples)

    def years_before(years):
        try:
            return today.replace(year=today.year - years)
        except ValueError:
            return today.replace(year=today.year - years, day=28)

    floor = raw_sql(
        "SELECT count(*) FROM members_member WHERE branch_id = %s AND status = 'active' AND merged_into_id IS NULL"
        " AND stage IN ('patient', 'member') AND gender = 'F' AND birth_date <= %s AND birth_date > %s"
        " AND EXTRACT(MONTH FROM birth_date)::int IN (3, 4, 5)",
        [branch.pk, years_before(25), years_before(56)],
    )
    floor_ms = time_calls(floor, repeat=samples)
    quadrant_ms = time_calls(
        lambda: segment_quadrant_counts({}, scope=scope), repeat=max(3, samples // 4), warmup=1
    )
    print(
        f"segment count over {n} people ({count} match): {summary(count_ms)}; raw-SQL floor {summary(floor_ms)}; "
        f"ratio {p95(count_ms) / max(p95(floor_ms), 0.001):.2f}x; four quadrants of everyone (medians, "
        f"12-month purchases): {summary(quadrant_ms)}"
    )
    return {"segment_members": n, "segment_count_ms": p95(count_ms)}


def main() -> None:
    args = parser(__doc__).parse_args()
    setup_django()
    from django.utils import timezone

    from marketing import funnel

    n_consult = 20_000 if args.small else 1_000_000
    n_visits = 100_000 if args.small else 5_000_000
    n_people = 5_000 if args.small else 200_000
    samples = 20 if args.small else 60
    today = timezone.localdate()
    branches, consultants, doctors, partners, channels = _setup()
    people = synthetic_people(n_people, branches[0].pk, mark=MARK, name="漏斗", stage="lead", phones=False)
    consultations = make_consultations(n_consult, branches, consultants, partners, channels, people, today)
    visits = make_visits(n_visits, branches, doctors, people, today)

    from marketing.consultation_models import FunnelMonth

    if not FunnelMonth.objects.filter(branch__in=branches).exists():
        # COPY ran without triggers: mark every month, then rebuild the rollup as the beat job does.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO marketing_funneldirty (branch_id, month) SELECT DISTINCT branch_id, "
                "date_trunc('month', \"on\")::date FROM marketing_consultation ON CONFLICT DO NOTHING"
            )
        start = time.perf_counter()
        rebuilt = 0
        while batch := funnel.funnel_refresh(limit=50):
            rebuilt += batch
        print(f"rollup: {rebuilt} branch-months rebuilt in {time.perf_counter() - start:.1f}s", flush=True)

    # A year by month: the eleven whole months before this one, and this month so far.
    lo, hi = (today.replace(day=1) - dt.timedelta(days=334)).replace(day=1), today
    all_ids = None  # HQ: every branch

    def page_funnel(branch_ids=all_ids):
        rows = funnel.funnel(date_from=lo, date_to=hi, by="channel", by_month=True, branch_ids=branch_ids)
        funnel.label_rows(rows, "channel")
        return rows

    rows = page_funnel()
    year_total = sum(r.counts["consultations"] for r in rows)
    funnel_ms = time_calls(page_funnel, repeat=samples)
    rolled, ranges = funnel.plan(lo, hi, None)
    plan_sql = funnel.statements(date_from=lo, date_to=hi, by="channel", branch_ids=None)

    def plan_floor():
        from django.db import connection

        with connection.cursor() as cursor:
            for sql, params in plan_sql:
                cursor.execute(sql, params)
                cursor.fetchall()

    floor_ms = time_calls(plan_floor, repeat=samples)
    table_floor = raw_sql(
        "SELECT c.channel_id, date_trunc('month', c.\"on\")::date, count(*), count(c.booked_on), "
        "count(c.arrived_on), count(c.paid_on), count(c.enrolled_on), sum(c.revenue) "
        'FROM marketing_consultation c WHERE c."on" >= %s AND c."on" < %s GROUP BY 1, 2',
        [lo, hi + dt.timedelta(days=1)],
    )
    table_ms = time_calls(table_floor, repeat=max(5, samples // 4), warmup=1)
    one = [branches[0].pk]
    branch_ms = time_calls(lambda: page_funnel(one), repeat=samples)
    ratio = p95(funnel_ms) / max(p95(floor_ms), 0.001)
    print(
        f"funnel, last year by channel × month, all branches ({year_total} consultations, {len(rows)} rows): "
        f"{summary(funnel_ms)}; plan floor (the same SQL, raw) {summary(floor_ms)}; ratio {ratio:.2f}x"
    )
    print(
        f"table floor (one raw scan of the year's consultations, counts only): {summary(table_ms)}; "
        f"the funnel is {p95(table_ms) / max(p95(funnel_ms), 0.001):.1f}x faster"
    )
    print(f"rollup months read: {len(rolled)}, live day ranges: {ranges}")
    print(f"funnel, one branch's year: {summary(branch_ms)}")
    segment = segment_bench(args.small, today)
    bench_line(
        "marketing",
        consultations=consultations,
        visits=visits,
        funnel_p95_ms=p95(funnel_ms),
        funnel_floor_ratio=ratio,
        **segment,
    )


if __name__ == "__main__":
    main()
