"""The whole system under load: gunicorn with the production settings (benchmarks/_load_settings.py)
on 127.0.0.1, the machine's PostgreSQL and Redis, and locust driving staff users through a
realistic mix — search, profile, day view, booking form, check-in, follow-up list, complaint
list, dashboard, home (benchmarks/_load_locustfile.py). Portal users plug in when the member
portal provides ``portal.load.PORTAL_USER_CLASSES`` (0 until then).

After the run: p50/p95/p99 per kind, errors, the ledger reconciliation (points and stored
value drift) and the double-booking check (two active, non-overbooked bookings of one doctor
overlapping), then the last line

    BENCH load staff_users=<n> portal_users=<n> staff_p95_ms=<x> portal_p95_ms=<x> errors=<n> drift=<n> double_bookings=<n>

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic_trust_load REDIS_URL=redis://127.0.0.1:6379/5 \
        python -m benchmarks.load              # 100 staff users, 5 minutes
    python -m benchmarks.load --small          # 10 users, 30 s

Loopback only and bounded in time: the server binds 127.0.0.1, locust runs with ``-t``, and
both are stopped at the end (and on any error). The database named by DATABASE_URL is
created if missing and filled with the demo data plus load-test logins: never point it at a
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
    "front_desk": ["book", "check_in"],
    "doctor": ["check_in", "followups", "complaints"],
    "customer_service": ["book", "followups", "complaints"],
    "branch_manager": ["book", "check_in", "followups", "complaints", "dashboard"],
}


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


def prepare(users: int) -> dict:
    """Migrate, seed the demo clinic, create ``users`` load logins (TOTP devices for the
    roles that need one) and list the ids the users work on."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinic.settings.local"
    os.environ["SECRET_KEY"] = LOAD_SECRET_KEY
    sys.path.insert(0, str(BASE))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from appointments.models import Appointment, Status
    from clinic import services
    from clinic.models import Branch, StaffProfile
    from clinic.two_factor import TOTP_NAME, is_required
    from members.models import Member

    call_command("migrate", verbosity=0, interactive=False)
    if not Branch.objects.filter(code="JA").exists():
        call_command("seed_demo", quiet=True)
    branch = Branch.objects.get(code="JA")
    staff = []
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
    today = timezone.localdate()
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
        "staff": list(staff),
        "staff_all": staff,
        "allowed": ALLOWED,
        "members": members,
        "queries": [n[:1] for n in names] + ["138", "139", "王", "张"],
        "appointments": booked,
    }


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
    p.add_argument("--small", action="store_true", help="10 users for 30 s")
    p.add_argument("--users", type=int)
    p.add_argument("--seconds", type=int)
    p.add_argument("--workers", type=int, default=int(os.environ.get("LOAD_WORKERS", "3")))
    args = p.parse_args()
    users = args.users or (10 if args.small else 100)
    seconds = args.seconds or (30 if args.small else 300)
    portal_users = 0  # the member portal plugs in here (_load_locustfile._portal_classes)

    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_trust_load")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
    _ensure_database(os.environ["DATABASE_URL"])
    plan = prepare(users)
    port = _free_port()
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
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "clinic.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={args.workers}",
            "--threads=4",
            "--timeout=60",
            "--log-level=warning",
        ],
        cwd=BASE,
        env=env,
        start_new_session=True,
    )
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("gunicorn did not start")
        prefix = work / "locust"
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
                str(users),
                "-r",
                str(max(1, users // 5)),
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
            env={**os.environ, "LOAD_PLAN": str(plan_file), "LOAD_PORTAL_USERS": str(portal_users)},
            timeout=seconds + 120,
            check=False,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    rows, totals = _percentiles(Path(f"{prefix}_stats.csv"))
    print(f"{'kind':28} {'requests':>8} {'errors':>6} {'p50':>7} {'p95':>7} {'p99':>7}  (ms)")
    for name, (n, fail, p50, p95, p99) in sorted(rows.items()):
        print(f"{name:28} {n:8d} {fail:6d} {p50:7.0f} {p95:7.0f} {p99:7.0f}")
    drift, double = drift_and_double_bookings()
    errors = sum(t["fail"] for t in totals.values())
    print(f"reconciliation: drift={drift}; double bookings={double}")
    print(
        f"BENCH load staff_users={users} portal_users={portal_users} "
        f"staff_p95_ms={totals['staff']['p95']:.0f} portal_p95_ms={totals['portal']['p95']:.0f} "
        f"errors={errors} drift={drift} double_bookings={double}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
