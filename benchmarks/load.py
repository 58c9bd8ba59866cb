"""The whole system under load: gunicorn with the production settings (benchmarks/_load_settings.py)
on 127.0.0.1, the machine's PostgreSQL and Redis, and locust driving two kinds of users
(benchmarks/_load_locustfile.py):

* staff users through a realistic mix — search, profile, day view, booking form, check-in,
  follow-up list, complaint list, dashboard, home — and, at the front desk, the whole visit:
  book a load member into a free slot, check in, start, add the charge lines, redeem points
  for a free service, check out with the member's coupon;
* member-portal users (benchmarks/_load_portal.py): log in by phone and SMS code, read the
  points, coupons and appointments pages, book a free online slot and sometimes cancel.

After the run: p50/p95/p99 per kind, errors, the ledger reconciliation (points and stored
value drift) and the double-booking check (two active, non-overbooked bookings of one doctor
overlapping), then the last line

    BENCH load staff_users=<n> portal_users=<n> staff_p95_ms=<x> portal_p95_ms=<x> errors=<n> drift=<n> double_bookings=<n>

``staff_p95_ms``/``portal_p95_ms`` are the p95 over every request of that side (log-ins
included), taken from the raw samples.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic_trust_load REDIS_URL=redis://127.0.0.1:6379/5 \
        python -m benchmarks.load              # 100 staff + 200 portal users, 5 minutes
    python -m benchmarks.load --small          # 10 staff + 20 portal users, 30 s

Loopback only and bounded in time: the server binds 127.0.0.1, locust runs with ``-t``, and
both are stopped at the end (and on any error). The database named by DATABASE_URL is
created if missing and filled with the demo data plus load-test logins, doctors' shifts and
load members (COPY and bulk inserts, each with points and a coupon): never point it at a
database you care about.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
PASSWORD = "Load@test-2026"
# One key for the data prepared here and the server reading it (ID numbers and medical notes
# are encrypted with keys derived from it). The load database is a throwaway one.
LOAD_SECRET_KEY = "load-test-only-secret-key-never-in-production-0123456789abcdefghij"
ROLES = {  # role → share of the staff users
    "front_desk": 0.45,
    "doctor": 0.2,
    "customer_service": 0.15,
    "branch_manager": 0.2,
}
ALLOWED = {
    "front_desk": ["book", "check_in", "visit"],
    "doctor": ["check_in", "followups", "complaints"],
    "customer_service": ["book", "followups", "complaints"],
    "branch_manager": ["book", "check_in", "visit", "followups", "complaints", "dashboard"],
}
# The load members (benchmarks._common.synthetic_people): tagged, with their own phone series.
MEMBER_MARK = "load-test"
MEMBER_PHONE_PREFIX = "166"
MEMBER_POINTS = 1000
# The front desk's visit: a cleaning (booked, paid with points through a reward) and a scan
# (the coupon's minimum spend); codes of the demo catalogue.
VISIT_SERVICE = "PV01"
EXTRA_SERVICE = "EX03"
COUPON_NAME = "压测券：满300减50"
REWARD_NAME = "压测：积分换洁牙"
REWARD_POINTS = 500
# Visits the desk pool must cover per staff user (a front-desk user manages far fewer).
DESK_MEMBERS_PER_USER = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name))
            )


def start_server(env: dict, *, workers: int = 3, threads: int = 4, log=None) -> tuple[subprocess.Popen, int]:
    """gunicorn on a free loopback port with ``env`` (its settings, database, Redis), in a
    process group of its own; returns once ``/healthz`` answers."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "clinic.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            f"--threads={threads}",
            "--timeout=60",
            # Longer than any user's pause: a kept-alive connection closed by the server just
            # as the client reuses it is a reset on the client's side, not the app's error.
            "--keep-alive=30",
            "--log-level=warning",
        ],
        cwd=BASE,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
    )
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return server, port
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    stop_server(server)
    raise RuntimeError("gunicorn did not start")


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (its master and workers), SIGKILL after 30 s."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def load_stock(branch, services, *, visits: int) -> None:
    """Enough of what the visits' services use by default (gloves, polishing cups…) for every
    visit the front desk may run, received as one load lot per item (the demo's own stock
    is a small clinic's, and a checkout refuses a material that is not on the shelf)."""
    import datetime as dt
    from decimal import Decimal

    from django.db.models import Sum
    from django.utils import timezone

    from inventory import services as stock
    from inventory.models import ServiceMaterialDefault, StockBalance

    need: dict = {}
    for default in ServiceMaterialDefault.objects.filter(service__in=services).select_related("item"):
        need[default.item] = need.get(default.item, 0) + default.quantity * visits
    for item, quantity in need.items():
        have = (
            StockBalance.objects.filter(branch=branch, batch__item=item).aggregate(n=Sum("quantity"))["n"]
            or 0
        )
        if have < quantity:
            stock.stock_receive(
                actor=None,
                branch=branch,
                item=item,
                lot_number=f"LOAD-{item.pk}-{timezone.localdate():%Y%m%d}",
                expiry_date=timezone.localdate() + dt.timedelta(days=3 * 365),
                supplier="压测供应商",
                unit_cost=Decimal("1.00"),
                quantity=quantity - have,
                reason="load test stock",
            )


def prepare(users: int, portal_users: int = 0) -> dict:
    """Migrate, seed the demo clinic, create ``users`` load logins (TOTP devices for the
    roles that need one), give the load doctors shifts, make the load members (one per
    portal user, and a pool for the front desk's visits) and list the ids the users work on."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinic.settings.local"
    os.environ["SECRET_KEY"] = LOAD_SECRET_KEY
    sys.path.insert(0, str(BASE))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from appointments.models import Appointment, Status
    from appointments.services import online
    from clinic import services
    from clinic.models import Branch, ServiceItem, StaffProfile
    from clinic.two_factor import TOTP_NAME, is_required
    from members.models import Member, MemberStatus

    call_command("migrate", verbosity=0, interactive=False)
    if not Branch.objects.filter(code="JA").exists():
        call_command("seed_demo", quiet=True)
    branch = Branch.objects.get(code="JA")
    staff = []
    doctors = []
    counts = {role: max(1, round(users * share)) for role, share in ROLES.items()}
    for role, n in counts.items():
        for i in range(n):
            username = f"load_{role}_{i}"
            profile = StaffProfile.objects.filter(user__username=username).select_related("user").first()
            if profile is None:
                profile = services.staff_create(
                    actor=None,
                    username=username,
                    password=PASSWORD,
                    full_name=f"压测{role}{i}",
                    role=role,
                    branches=[branch],
                )
            user = profile.user
            entry = {"username": username, "role": role}
            if is_required(user):
                device = TOTPDevice.objects.filter(
                    user=user, confirmed=True
                ).first() or TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=True)
                entry["totp_key"] = device.key
            staff.append(entry)
            if role == "doctor":
                doctors.append(user)
    doctor_shifts(doctors, branch)
    visit_service = ServiceItem.objects.get(code=VISIT_SERVICE)
    extra_service = ServiceItem.objects.get(code=EXTRA_SERVICE)
    template, reward = load_coupon_and_reward(visit_service)
    desk_visits = max(200, DESK_MEMBERS_PER_USER * users)
    load_stock(branch, [visit_service, extra_service], visits=desk_visits)
    portal, desk = load_members(
        branch,
        portal=portal_users,
        desk=desk_visits,
        template=template,
        reward_points=reward.points_cost,
    )
    today = timezone.localdate()
    active = Member.objects.filter(branch=branch, status=MemberStatus.ACTIVE).exclude(
        other_contacts=MEMBER_MARK
    )
    members = list(Member.objects.filter(branch=branch).values_list("pk", flat=True)[:500])
    names = list(Member.objects.filter(branch=branch).values_list("name", flat=True)[:50])
    booked = list(
        Appointment.objects.filter(
            branch=branch, start__date=today, status__in=[Status.BOOKED, Status.CONFIRMED]
        )
        .order_by("?")
        .values_list("pk", flat=True)[:200]
    )
    return {
        "password": PASSWORD,
        "time_zone": str(timezone.get_current_timezone()),
        "staff": list(staff),
        "staff_all": staff,
        "allowed": ALLOWED,
        "members": members,
        "bookable": list(active.values_list("pk", flat=True)[:500]),
        "queries": [n[:1] for n in names] + ["138", "139", "王", "张"],
        "appointments": booked,
        "branch": branch.pk,
        "doctors": [d.pk for d in doctors],
        "visit_service": visit_service.pk,
        "extra_service": extra_service.pk,
        "reward": reward.pk,
        "desk": desk,
        "portal": list(portal),
        "portal_all": portal,
        "portal_services": list(online.online_services().values_list("pk", flat=True)),
        "online_days": _online_days(),
    }


def _online_days() -> int:
    from appointments import conf

    return int(conf.get("APPOINTMENTS_ONLINE_DAYS"))


def doctor_shifts(doctors, branch) -> None:
    """Weekly shifts (09:00–12:00, 13:00–18:00, every day) for the load doctors that have
    none at ``branch``: the bookings of the run need free slots."""
    import datetime as dt

    from appointments.models import ShiftTemplate

    have = set(
        ShiftTemplate.objects.filter(branch=branch, doctor__in=doctors).values_list("doctor_id", flat=True)
    )
    ShiftTemplate.objects.bulk_create(
        [
            ShiftTemplate(doctor=d, branch=branch, weekday=weekday, starts=dt.time(a), ends=dt.time(b))
            for d in doctors
            if d.pk not in have
            for weekday in range(7)
            for a, b in ((9, 12), (13, 18))
        ]
    )


def load_coupon_and_reward(service):
    """The load test's coupon template (an amount off with a minimum spend) and its reward
    (``service`` free for points), created once."""
    from decimal import Decimal

    from loyalty.coupon_models import CouponKind, CouponTemplate, RewardItem, RewardKind

    template, _ = CouponTemplate.objects.get_or_create(
        name=COUPON_NAME,
        defaults={"kind": CouponKind.AMOUNT, "amount_off": Decimal("50"), "min_spend": Decimal("300")},
    )
    reward, _ = RewardItem.objects.get_or_create(
        name=REWARD_NAME,
        defaults={"kind": RewardKind.SERVICE, "points_cost": REWARD_POINTS, "service_item": service},
    )
    return template, reward


def load_members(branch, *, portal: int, desk: int, template, reward_points: int) -> tuple[list, list]:
    """(portal, desk): ``portal`` members for the portal users (``{"phone"}``: the first of
    the series, reused by every run) and ``desk`` members whose coupon is unused and whose
    points cover the reward (``{"member", "coupon"}``: each visit of the run uses one up, so
    later runs make new ones). Members are made with COPY, their cards, points and coupons
    with bulk inserts (``enrol_load_members``); the portal members' old log-in codes are
    removed (a new run is not a member asking for a code again within the hour)."""
    from django.db import connection

    from benchmarks._common import synthetic_people
    from members.models import Member
    from portal.models import LoginCode

    def people(n: int) -> list[int]:
        ids = synthetic_people(
            n,
            branch.pk,
            mark=MEMBER_MARK,
            name="压测会员",
            stage="member",
            phones=True,
            phone_prefix=MEMBER_PHONE_PREFIX,
        )
        enrol_load_members(ids, branch, template)
        return ids

    def fresh(exclude: list[int]) -> list[dict]:
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT DISTINCT ON (m.id) m.id, c.code FROM members_member m
                     JOIN loyalty_coupon c ON c.member_id = m.id AND c.template_id = %s
                      AND c.used_at IS NULL AND c.voided_at IS NULL
                     JOIN loyalty_pointsaccount a ON a.member_id = m.id AND a.is_open AND a.balance >= %s
                    WHERE m.other_contacts = %s AND NOT (m.id = ANY(%s))
                      AND NOT EXISTS (SELECT 1 FROM appointments_visit v WHERE v.member_id = m.id)
                    ORDER BY m.id, c.id""",
                [template.pk, reward_points, MEMBER_MARK, exclude],
            )
            return [{"member": m, "coupon": c} for m, c in cursor.fetchall()]

    ids = people(max(portal + desk, 1))
    portal_ids = ids[:portal]
    pool = fresh(portal_ids)
    if len(pool) < desk:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM members_member WHERE other_contacts = %s", [MEMBER_MARK])
            total = cursor.fetchone()[0]
        people(total + desk - len(pool))
        pool = fresh(portal_ids)
    phones = list(Member.objects.filter(pk__in=portal_ids).order_by("pk").values_list("phone", flat=True))
    LoginCode.objects.filter(phone__in=phones).delete()
    return [{"phone": p} for p in phones], pool[:desk]


def enrol_load_members(ids: list[int], branch, template) -> int:
    """Card, points account with ``MEMBER_POINTS`` in one lot, and one coupon of
    ``template`` for each of ``ids`` not enrolled yet, in bulk (the rows the services would
    write, without their audit and welcome messages: synthetic members). The ledger stays
    balanced: balance = the entry = the open lot. Returns the number enrolled."""
    from django.db import connection, transaction
    from django.utils import timezone

    from loyalty.coupon_models import Coupon
    from loyalty.coupons import _validity, code_new
    from loyalty.models import Membership, PointsAccount, PointsEntry, PointsLot
    from loyalty.services.ledger import add_months, expiry_date
    from loyalty.services.tiers import entry_tier

    done = set(Membership.objects.filter(member_id__in=ids).values_list("member_id", flat=True))
    todo = [i for i in ids if i not in done]
    if not todo:
        return 0
    now, today = timezone.now(), timezone.localdate()
    tier = entry_tier()
    with transaction.atomic():
        Membership.objects.bulk_create(
            [
                Membership(
                    member_id=i,
                    card_no=f"LD{i:08d}",
                    branch=branch,
                    tier=tier,
                    tier_since=today,
                    review_on=add_months(today, 12),
                )
                for i in todo
            ]
        )
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")  # synthetic rows: no history
            cursor.execute(
                "UPDATE members_member SET card_no = 'LD' || lpad(id::text, 8, '0') WHERE id = ANY(%s)",
                [todo],
            )
            cursor.execute("SET LOCAL session_replication_role = origin")
        accounts = PointsAccount.objects.bulk_create(
            [PointsAccount(member_id=i, balance=MEMBER_POINTS, opened_at=now, updated_at=now) for i in todo]
        )
        entries = PointsEntry.objects.bulk_create(
            [
                PointsEntry(
                    account=a,
                    kind="earn",
                    points=MEMBER_POINTS,
                    balance_after=MEMBER_POINTS,
                    idempotency_key=f"load:{a.member_id}:earn",
                    source_key="load",
                    reason="压测",
                    created_at=now,
                )
                for a in accounts
            ]
        )
        expires = expiry_date(today)
        PointsLot.objects.bulk_create(
            [
                PointsLot(
                    account=e.account,
                    entry=e,
                    points=MEMBER_POINTS,
                    remaining=MEMBER_POINTS,
                    earned_at=now,
                    expires_on=expires,
                )
                for e in entries
            ]
        )
        start, end = _validity(template, today)
        codes: set[str] = set(Coupon.objects.values_list("code", flat=True))
        rows = []
        for i in todo:
            code = code_new()
            while code in codes:
                code = code_new()
            codes.add(code)
            rows.append(
                Coupon(
                    code=code,
                    template=template,
                    member_id=i,
                    reason="压测",
                    issue_key=f"load:{i}",
                    valid_from=start,
                    valid_until=end,
                )
            )
        Coupon.objects.bulk_create(rows)
    return len(todo)


def drift_and_double_bookings() -> tuple[int, int]:
    from django.db import connection

    from loyalty.services.ledger_jobs import ledger_drift_rows
    from loyalty.services.stored_value import stored_value_drift_rows

    drift = len(ledger_drift_rows()) + len(stored_value_drift_rows())
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM appointments_appointment a JOIN appointments_appointment b
                 ON a.doctor_id = b.doctor_id AND a.id < b.id
                AND tstzrange(a.start, a."end") && tstzrange(b.start, b."end")
              WHERE NOT a.overbooked AND NOT b.overbooked
                AND a.status IN ('booked','confirmed','arrived','in_treatment','completed')
                AND b.status IN ('booked','confirmed','arrived','in_treatment','completed')"""
        )
        return drift, cursor.fetchone()[0]


def _percentiles(stats_csv: Path) -> tuple[dict, dict]:
    """(per-kind rows, totals by prefix) from locust's ``_stats.csv``."""
    rows, totals = {}, {"staff": {"n": 0, "fail": 0, "p95": 0.0}, "portal": {"n": 0, "fail": 0, "p95": 0.0}}
    with stats_csv.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["Name"] == "Aggregated":
                continue
            n, fail = int(r["Request Count"]), int(r["Failure Count"])
            rows[r["Name"]] = (n, fail, float(r["50%"] or 0), float(r["95%"] or 0), float(r["99%"] or 0))
            kind = r["Name"].split(":")[0]
            if kind in totals:
                t = totals[kind]
                t["n"] += n
                t["fail"] += fail
                # A conservative aggregate: the worst kind's p95 (no raw samples in the CSV).
                t["p95"] = max(t["p95"], float(r["95%"] or 0))
    return rows, totals


def main() -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="10 staff and 20 portal users for 30 s")
    p.add_argument("--users", type=int, help="staff users (default 100; --small 10)")
    p.add_argument("--portal-users", type=int, help="member-portal users (default 200; --small 20)")
    p.add_argument("--seconds", type=int)
    p.add_argument("--workers", type=int, default=int(os.environ.get("LOAD_WORKERS", "3")))
    args = p.parse_args()
    users = args.users or (10 if args.small else 100)
    seconds = args.seconds or (30 if args.small else 300)
    portal_users = args.portal_users if args.portal_users is not None else (20 if args.small else 200)

    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_trust_load")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
    _ensure_database(os.environ["DATABASE_URL"])
    plan = prepare(users, portal_users)
    work = Path(tempfile.mkdtemp(prefix="clinic-load-"))
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks._load_settings",
        "SECRET_KEY": LOAD_SECRET_KEY,
        "PYTHONPATH": str(BASE),
        "LOG_LEVEL": "WARNING",
        "CLINIC_VAR_DIR": str(work / "var"),
    }
    server, port = start_server(env, workers=args.workers)
    try:
        prefix = work / "locust"
        samples_file = work / "samples.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(BASE / "benchmarks" / "_load_locustfile.py"),
                "--headless",
                "--only-summary",
                "-u",
                str(users + portal_users),
                "-r",  # everyone arrives over the first fifth of the run (at most a minute)
                str(max(1, (users + portal_users) // max(1, min(60, seconds // 5)))),
                "-t",
                f"{seconds}s",
                "--stop-timeout",
                "10",
                "--host",
                f"http://127.0.0.1:{port}",
                "--csv",
                str(prefix),
                "--loglevel",
                "WARNING",
            ],
            cwd=BASE,
            env={
                **os.environ,
                "PYTHONPATH": str(BASE),
                "LOAD_PLAN": str(plan_file),
                "LOAD_SAMPLES": str(samples_file),
                "LOAD_STAFF_USERS": str(users),
                "LOAD_PORTAL_USERS": str(portal_users),
            },
            timeout=seconds + 120,
            check=False,
        )
    finally:
        stop_server(server)

    rows, totals = _percentiles(Path(f"{prefix}_stats.csv"))
    samples = json.loads(samples_file.read_text(encoding="utf-8")) if samples_file.exists() else {}
    print(f"{'kind':28} {'requests':>8} {'errors':>6} {'p50':>7} {'p95':>7} {'p99':>7}  (ms)")
    for name, (n, fail, p50, p95, p99) in sorted(rows.items()):
        print(f"{name:28} {n:8d} {fail:6d} {p50:7.0f} {p95:7.0f} {p99:7.0f}")
    p95s = {}
    for side in ("staff", "portal"):
        times = sorted(samples.get("times", {}).get(side, []))
        p95s[side] = _p95(times) if times else totals[side]["p95"]
        print(
            f"{side}: {len(times)} requests, p50={_p50(times):.0f} ms, p95={p95s[side]:.0f} ms "
            f"(worst kind's p95 {totals[side]['p95']:.0f} ms)"
        )
    logins = sorted(samples.get("times", {}).get("staff-login", []))
    print(
        f"staff log-in (once a shift, not in staff p95): {len(logins)} requests, "
        f"p50={_p50(logins):.0f} ms, p95={_p95(logins):.0f} ms"
    )
    total = sum(len(v) for v in samples.get("times", {}).values())
    print(f"throughput: {total} requests in {seconds} s ({total / max(seconds, 1):.1f} per second)")
    for outcome, n in sorted(samples.get("outcomes", {}).items()):
        print(f"outcome {outcome}: {n}")
    _print_failures(Path(f"{prefix}_failures.csv"))
    drift, double = drift_and_double_bookings()
    errors = sum(fail for _n, fail, *_rest in rows.values())
    print(f"reconciliation: drift={drift}; double bookings={double}")
    print(
        f"BENCH load staff_users={users} portal_users={portal_users} "
        f"staff_p95_ms={p95s['staff']:.0f} portal_p95_ms={p95s['portal']:.0f} "
        f"errors={errors} drift={drift} double_bookings={double}"
    )
    return 0


def _p95(ordered: list[float]) -> float:
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else 0.0


def _p50(ordered: list[float]) -> float:
    return ordered[len(ordered) // 2] if ordered else 0.0


def _print_failures(path: Path) -> None:
    """locust's failure summary (method, name, error, count), if any."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            print(f"failure {r['Method']} {r['Name']}: {r['Error'][:200]} ×{r['Occurrences']}")


if __name__ == "__main__":
    raise SystemExit(main())
