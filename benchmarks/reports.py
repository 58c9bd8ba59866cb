"""The reports' daily rollups and the branch dashboard at scale, next to the raw-SQL floor of
reading the rollups, measured in the same run:

1. People (COPY, split over two branches) and their checked-out visits over the last two
   years (COPY).
2. ``rollup_refresh(full=True)``: every day's rollups rebuilt from the base tables (timed:
   ``rollup_full_s``); then a day's new checkouts and the incremental refresh the beat runs
   (``rollup_refresh_s``).
3. The branch dashboard (``reports.dashboard.branch_dashboard``) for each branch: p95 over
   the runs, and two floors: its own SQL statements replayed on a bare cursor
   (``dashboard_floor_ratio_max`` is dashboard p95 ÷ that floor's p95: what Python adds), and
   the bare SQL reading only the rollup rows of three periods and the 30-day series
   (``dashboard_rollup_floor_ratio_max``; the dashboard also reads today live, who is
   waiting and the complaint deadlines, which no rollup holds). First once
   cold (``dashboard_cold_ms_max``: before the rollup job has computed the shared live figures,
   复诊率 of each period is read from the visits), then warm (the job recomputes them after
   each refresh, ``warm_job_s``, and viewers share them for REPORTS_LIVE_CACHE_SECONDS).
   The HQ dashboard (both branches and the chain) and the front desk's board: their p95,
   in ``dashboard_p95_ms_max`` too (the worst of every dashboard).
4. An ad-hoc year on the base tables: visits and revenue of the last 365 days by branch and
   day, straight from the visits (``adhoc_year_s``).
5. An export job (``reports.export_jobs.export_job_run``): one branch's checked-out visits of
   the last 365 days written as CSV by the job's own code, rows a second
   (``export_rows_per_s``), and the floor: PostgreSQL's ``COPY ... TO STDOUT`` of the same
   rows and columns (``export_floor_ratio`` is job time ÷ floor time).

    python -m benchmarks.reports                 # 1,000,000 people, 5,000,000 visits
    python -m benchmarks.reports --small         # 20,000 people, 100,000 visits
    python -m benchmarks.reports --members 200000   # another scale (five visits each)

Also generated, so the dashboard runs beside the whole scale: a points account per person
with ten ledger entries each (10,000,000; points liability sums the accounts' balances) and
1,000,000 consultations (the marketing analysis reads them; the dashboard does not).
"""

from __future__ import annotations

import datetime as dt
import random
import time

from benchmarks._common import bench_line, copy_rows, p95, parser, setup_django, synthetic_people, time_calls

MARK = "reports-bench"
VISIT_COLUMNS = (
    "status", "opened_at", "list_total", "discount_total", "amount_due", "amount_paid", "points_earned",
    "manual_discount", "manual_discount_reason", "checkout_key", "checked_out_at", "voided_at", "void_reason",
    "appointment_id", "branch_id", "checked_out_by_id", "doctor_id", "member_id", "voided_by_id", "pricing_notes",
)  # fmt: skip


def _clinic():
    from django.contrib.auth import get_user_model

    from clinic import services
    from clinic.models import Branch, Role

    branches = [
        Branch.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in (("RPB1", "报表基准一店"), ("RPB2", "报表基准二店"))
    ]
    user = get_user_model().objects.filter(username="bench_rp_doc").first()
    if user is None:
        user = services.staff_create(
            actor=None, username="bench_rp_doc", password=None, full_name="基准医生",
            role=Role.DOCTOR, branches=branches,
        ).user  # fmt: skip
    return branches, user


def _visits(
    people_by_branch: dict[int, list[int]], per_person: int, doctor_id: int, *, days: int = 730, at=None
) -> int:
    from django.db import connection, transaction

    ids = list(people_by_branch)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM appointments_visit WHERE branch_id = ANY(%s)", [ids])
        have = cur.fetchone()[0]
    want = sum(len(p) for p in people_by_branch.values()) * per_person
    if at is None and have >= want:
        return have
    count = want - have if at is None else per_person
    rng = random.Random(17 + have)
    now = dt.datetime.now(dt.UTC)

    def rows():
        for _i in range(count):
            branch_id = ids[rng.randrange(len(ids))]
            people = people_by_branch[branch_id]
            when = at or now - dt.timedelta(seconds=rng.randrange(1, days * 86400))
            amount = rng.choice(("280.00", "400.00", "1200.00", "80.00"))
            s = when.isoformat()
            yield (
                "checked_out", s, amount, "0", amount, amount, 0, "0", "", None, s, None, "", None,
                branch_id, None, doctor_id, people[rng.randrange(len(people))], None, "[]",
            )  # fmt: skip

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        copy_rows("appointments_visit", VISIT_COLUMNS, rows())
    with connection.cursor() as cur:  # what autovacuum would do: statistics and the visibility map
        cur.execute("VACUUM (ANALYZE) appointments_visit")
    print(f"generated {count} visits in {time.perf_counter() - start:.1f}s", flush=True)
    return have + count


def _ledger(member_ids: list[int], entries: int) -> int:
    """A points account per person and ``entries`` earn entries (with their lots) between
    them, by the loyalty benchmark's generator; made once."""
    from benchmarks import loyalty as loyalty_bench
    from loyalty.models import PointsAccount, PointsEntry

    if PointsAccount.objects.filter(member_id=member_ids[-1]).exists():
        return PointsEntry.objects.count()
    loyalty_bench.generate(member_ids, entries)
    return entries


def _consultations(branches, people: dict[int, list[int]], n: int) -> int:
    """``n`` consultations over two years by the marketing benchmark's generator: a
    consultant and five partners at each branch."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from benchmarks import marketing as marketing_bench
    from clinic import services
    from clinic.models import Role
    from marketing.consultation_models import ConsultationChannel
    from marketing.models import Partner

    consultants = []
    for i, branch in enumerate(branches):
        user = get_user_model().objects.filter(username=f"bench_rp_consult{i}").first()
        consultants.append(
            user
            or services.staff_create(
                actor=None, username=f"bench_rp_consult{i}", password=None, full_name=f"基准咨询{i}",
                role=Role.CONSULTANT, branches=[branch],
            ).user
        )  # fmt: skip
    partners = [
        Partner.objects.get_or_create(branch=b, name=f"报表基准单位{i}", defaults={"kind": "company"})[0]
        for b in branches
        for i in range(5)
    ]
    channels = list(ConsultationChannel.objects.values_list("pk", flat=True))
    everyone = [i for ids in people.values() for i in ids]
    return marketing_bench.make_consultations(
        n, branches, consultants, partners, channels, everyone, timezone.localdate()
    )


def _floor_calls(branch_id: int, today: dt.date):
    """The bare SQL reading the rollup rows the dashboard reads (three periods, 30 days)."""
    from django.db import connection

    from reports.dashboard import periods

    ranges = list(periods(today).values())
    lo30 = today - dt.timedelta(days=29)

    def run():
        with connection.cursor() as cur:
            for lo, hi in ranges:
                cur.execute(
                    "SELECT metric, sum(value) FROM reports_dailyrollup WHERE branch_id = %s AND day >= %s "
                    "AND day < %s AND dimension = '' GROUP BY metric",
                    [branch_id, lo, min(hi, today)],
                )
                cur.fetchall()
            cur.execute(
                "SELECT day, metric, value FROM reports_dailyrollup WHERE branch_id = %s AND day >= %s "
                "AND day < %s AND dimension = '' AND metric IN ('revenue', 'visits', 'bookings')",
                [branch_id, lo30, today],
            )
            cur.fetchall()

    return run


def _replay_calls(branch):
    """The floor of everything the dashboard reads from PostgreSQL: its own statements (the
    one pass over the rollups, today's metrics, who is waiting, the complaint deadlines, the
    30-day series), captured from a warm dashboard and replayed on a bare cursor, so the
    ratio is what Python adds (building the figures, the cache lookups)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports import dashboard

    with CaptureQueriesContext(connection) as ctx:
        dashboard.branch_dashboard(branch)
    statements = [q["sql"] for q in ctx.captured_queries]

    def run():
        with connection.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
                cur.fetchall()

    return run


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=0, help="another scale (five visits each)")
    p.add_argument("--repeat", type=int, default=30, help="dashboard runs per branch")
    args = p.parse_args()
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from reports import dashboard, rollups

    members = args.members or (20_000 if args.small else 1_000_000)
    branches, doctor = _clinic()
    half = members // 2
    people = {
        branches[0].pk: synthetic_people(half, branches[0].pk, mark=MARK + "1", name="报表", stage="patient", phones=False, created_days=730),
        branches[1].pk: synthetic_people(members - half, branches[1].pk, mark=MARK + "2", name="报表", stage="patient", phones=False, created_days=730),
    }  # fmt: skip
    visits = _visits(people, 5, doctor.pk)
    entries = _ledger([i for ids in people.values() for i in ids], members * 10)
    consultations = _consultations(branches, people, members)

    start = time.perf_counter()
    rows = rollups.rollup_refresh(full=True)
    full_s = time.perf_counter() - start
    print(f"full rollup rebuild: {full_s:.2f}s, {rows} rows", flush=True)
    _visits(people, max(members // 1000, 100), doctor.pk, at=timezone.now() - dt.timedelta(days=1))
    start = time.perf_counter()
    rows = rollups.rollup_refresh()
    refresh_s = time.perf_counter() - start
    print(f"incremental refresh (a day's checkouts later): {refresh_s:.2f}s, {rows} rows", flush=True)

    today = timezone.localdate()
    from reports.rollup_models import SharedFigure

    p95s, ratios, rollup_ratios, colds = [], [], [], []
    for branch in branches:
        # Cold: the rollup job has not yet computed the shared live figures (a new install, or
        # the job stopped for longer than they keep), so this dashboard reads 复诊率 from the
        # visits while the manager waits.
        SharedFigure.objects.all().delete()
        start = time.perf_counter()
        dashboard.branch_dashboard(branch)
        colds.append((time.perf_counter() - start) * 1000)
        print(f"dashboard {branch.code}: cold {colds[-1]:.1f}ms", flush=True)
    SharedFigure.objects.all().delete()
    start = time.perf_counter()
    dashboard.warm_shared(today)
    warm_job_s = time.perf_counter() - start
    print(f"the rollup job's recompute of the shared live figures: {warm_job_s:.2f}s", flush=True)
    for branch in branches:
        samples = time_calls(lambda b=branch: dashboard.branch_dashboard(b), args.repeat, warmup=2)
        floor = time_calls(_floor_calls(branch.pk, today), args.repeat, warmup=2)
        replay = time_calls(_replay_calls(branch), args.repeat, warmup=2)
        ratio = p95(samples) / max(p95(replay), 0.001)
        rollup_ratio = p95(samples) / max(p95(floor), 0.001)
        print(
            f"dashboard {branch.code}: p95 {p95(samples):.1f}ms; its own statements replayed raw p95 "
            f"{p95(replay):.2f}ms (ratio {ratio:.1f}x); the rollups alone p95 {p95(floor):.2f}ms "
            f"(ratio {rollup_ratio:.1f}x)"
        )
        p95s.append(p95(samples))
        ratios.append(ratio)
        rollup_ratios.append(rollup_ratio)

    # The other dashboards: HQ (every branch side by side and the chain), the front desk's.
    from reports import frontdesk, hq

    hq_samples = time_calls(lambda: hq.hq_dashboard(branches, today=today), args.repeat, warmup=2)
    desk_samples = time_calls(lambda: frontdesk.front_desk_board(branches[0]), args.repeat, warmup=2)
    print(f"HQ dashboard ({len(branches)} branches): p95 {p95(hq_samples):.1f}ms", flush=True)
    print(f"front desk board: p95 {p95(desk_samples):.1f}ms", flush=True)

    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT branch_id, (checked_out_at AT TIME ZONE 'Asia/Shanghai')::date, count(*), sum(amount_paid) "
            "FROM appointments_visit WHERE status = 'checked_out' AND checked_out_at >= now() - interval '365 days' "
            "GROUP BY 1, 2"
        )
        cur.fetchall()
    adhoc_s = time.perf_counter() - start
    print(f"ad-hoc year on the base tables: {adhoc_s:.2f}s", flush=True)
    export_rate, export_ratio = _export(branches[0], today)
    bench_line(
        "reports",
        members=members,
        visits=visits,
        ledger_entries=entries,
        consultations=consultations,
        dashboard_p95_ms_max=max([*p95s, p95(hq_samples), p95(desk_samples)]),
        branch_dashboard_p95_ms_max=max(p95s),
        hq_dashboard_p95_ms=p95(hq_samples),
        front_desk_p95_ms=p95(desk_samples),
        dashboard_floor_ratio_max=max(ratios),
        dashboard_rollup_floor_ratio_max=max(rollup_ratios),
        dashboard_cold_ms_max=max(colds),
        rollup_refresh_s=refresh_s,
        warm_job_s=warm_job_s,
        adhoc_year_s=adhoc_s,
        export_rows_per_s=export_rate,
        export_floor_ratio=export_ratio,
    )


def _export(branch, today: dt.date) -> tuple[float, float]:
    """One long export job over a branch's year of visits, and the COPY floor of its rows."""
    import tempfile

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from reports import export_jobs, kpis
    from reports.export_models import ExportJob

    settings.REPORTS_EXPORT_DIR = tempfile.mkdtemp(prefix="reports-bench-exports-")
    user, _ = get_user_model().objects.get_or_create(
        username=MARK, defaults={"is_superuser": True, "is_staff": True}
    )  # every permission: phones shown, no masking cost hidden
    lo, hi = today - dt.timedelta(days=365), today + dt.timedelta(days=1)
    job = ExportJob.objects.create(
        requested_by=user, branch=branch, code="visits", period="bench", lo=lo, hi=hi, fmt="csv"
    )
    start = time.perf_counter()
    rows = export_jobs.export_job_run(job.pk)
    job_s = time.perf_counter() - start
    job.refresh_from_db()
    assert job.status == "done", job.error
    start_at, end_at = kpis.period_bounds(lo, hi)
    start = time.perf_counter()
    with connection.cursor() as cur, open(settings.REPORTS_EXPORT_DIR + "/floor.csv", "wb") as out:
        sql = (
            "COPY (SELECT v.checked_out_at, m.name, m.phone, v.amount_paid FROM appointments_visit v "
            "JOIN members_member m ON m.id = v.member_id WHERE v.branch_id = %s AND v.status = 'checked_out' "
            "AND v.checked_out_at >= %s AND v.checked_out_at < %s ORDER BY v.checked_out_at, v.id) TO STDOUT WITH CSV"
        )
        with cur.cursor.copy(sql, [branch.pk, start_at, end_at]) as copy:
            for chunk in copy:
                out.write(chunk)
    floor_s = time.perf_counter() - start
    rate = rows / max(job_s, 1e-6)
    print(
        f"export job: {rows} rows in {job_s:.2f}s ({rate:.0f} rows/s), COPY floor {floor_s:.2f}s", flush=True
    )
    return rate, job_s / max(floor_s, 1e-6)


if __name__ == "__main__":
    main()
