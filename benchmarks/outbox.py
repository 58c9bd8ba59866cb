"""The outbox under load: enqueue N messages through ``notification_enqueue`` (1% of them
repeat an earlier dedupe key), then two sender processes sweep the queue at once against the
file backend. Every send is also logged per process, so a message sent twice shows up.

    python -m benchmarks.outbox --messages 100000
    python -m benchmarks.outbox --small

Ends with ``BENCH outbox enqueued=<n> unique=<n> sent=<n> sent_twice=<n> per_s=<x>
broadcast_recipients=<n> broadcast_enqueue_s=<x> broadcast_sent_twice=<n>``, where per_s is
messages sent per second of the two senders' wall time. The floor printed beside it is a raw
``UPDATE`` of the same rows to ``sent`` in one statement.

The broadcast path (issue 16): ``broadcast_recipients`` people with an SMS consent (COPY;
100,000, or 2,000 with --small) in one segment; the audience is fixed, then the broadcast is
started twice at the same moment in two threads. ``broadcast_enqueue_s`` is the wall time of
both set-based enqueues (one INSERT … SELECT each), ``broadcast_sent_twice`` the people with
more than one outbox row for it (must be 0). Both paths are printed: one message at a time
(``notification_enqueue``, above) and the set-based one, with its raw INSERT … SELECT floor.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import BASE, bench_line, parser, setup_django

TEMPLATE_KEY = "bench.reminder"
BACKEND = "benchmarks.outbox.CountingFileBackend"


def _file_backend_base():
    from clinic.notifications.backends.simple import FileBackend

    return FileBackend


class CountingFileBackend(_file_backend_base()):
    """The file backend, plus one line per send in this process's log."""

    def send(self, message):
        result = super().send(message)
        log = os.environ["BENCH_OUTBOX_LOG"]
        with open(log, "a", encoding="ascii") as handle:
            handle.write(f"{message.outbox_id}\n")
        return result


def configure(outbox_dir: str) -> None:
    from django.conf import settings

    settings.NOTIFICATIONS_BACKENDS = {"sms": BACKEND, "wechat": BACKEND, "email": BACKEND}
    settings.NOTIFICATIONS_FILE_DIR = outbox_dir
    settings.NOTIFICATIONS_RATE_LIMITS = {}
    settings.NOTIFICATIONS_QUIET_HOURS = None


def sender(outbox_dir: str, batch: int) -> None:
    setup_django(migrate=False)
    configure(outbox_dir)
    from clinic.notifications.sending import outbox_send_due

    counts = outbox_send_due(batch_size=batch, budget_seconds=3600, worker=f"bench{os.getpid()}")
    print(dict(counts), flush=True)


def main() -> None:
    args_parser = parser("Notification outbox benchmark")
    args_parser.add_argument("--messages", type=int, default=100_000)
    args_parser.add_argument("--batch", type=int, default=500)
    args_parser.add_argument("--sender", metavar="DIR", help=argparse_hidden())
    args = args_parser.parse_args()
    if args.sender:
        sender(args.sender, args.batch)
        return
    if args.small:
        args.messages = 2_000
    setup_django()
    from django.db import connection, transaction

    from clinic.notifications.models import MessageTemplate, Outbox, Status
    from clinic.notifications.services import notification_enqueue

    MessageTemplate.objects.update_or_create(
        key=TEMPLATE_KEY,
        channel="sms",
        language="zh-hans",
        defaults={"name": "基准测试", "body": "【微笑口腔】{name}您好，您预约了{start}的{service}。"},
    )
    Outbox.objects.filter(template_key=TEMPLATE_KEY).delete()

    run = int(time.time())
    start = time.perf_counter()
    enqueued = 0
    with transaction.atomic():
        for i in range(args.messages):
            # Every hundredth message repeats the previous key: a retried caller.
            key_no = i - 1 if i % 100 == 99 else i
            notification_enqueue(
                channel="sms",
                recipient=f"+86139{key_no % 100_000_000:08d}",
                template_key=TEMPLATE_KEY,
                params={"name": f"会员{key_no}", "start": "5月6日 10:00", "service": "超声洁牙"},
                purpose="service",
                dedupe_key=f"bench:{run}:{key_no}",
            )
            enqueued += 1
    enqueue_s = time.perf_counter() - start
    unique = Outbox.objects.filter(template_key=TEMPLATE_KEY).count()
    print(f"enqueued {enqueued} in {enqueue_s:.1f}s ({enqueued / enqueue_s:.0f}/s), {unique} unique rows")

    work = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    env = dict(os.environ)
    procs = []
    start = time.perf_counter()
    for n in range(2):
        env_n = {**env, "BENCH_OUTBOX_LOG": str(work / f"sender{n}.log")}
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.outbox",
                    "--sender",
                    str(work / "files"),
                    "--batch",
                    str(args.batch),
                ],
                cwd=BASE,
                env=env_n,
            )
        )
    codes = [p.wait() for p in procs]
    send_s = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"a sender failed: {codes}")

    sends = collections.Counter()
    per_sender = []
    for n in range(2):
        log = work / f"sender{n}.log"
        ids = log.read_text().split() if log.exists() else []
        per_sender.append(len(ids))
        sends.update(ids)
    sent_rows = Outbox.objects.filter(template_key=TEMPLATE_KEY, status=Status.SENT).count()
    sent_twice = sum(1 for c in sends.values() if c > 1)  # of any row: never acceptable
    # The senders also deliver whatever else was due in this database (an earlier
    # benchmark's reminders): counted apart, so ``sent`` compares with ``unique``.
    ours = {str(pk) for pk in Outbox.objects.filter(template_key=TEMPLATE_KEY).values_list("pk", flat=True)}
    sent_ours = sum(1 for pk in sends if pk in ours)
    print(
        f"senders: {per_sender[0]} + {per_sender[1]} sends in {send_s:.1f}s ({len(sends) - sent_ours} of "
        f"other rows already due); {sent_rows} bench rows marked sent"
    )

    # The floor: mark the same rows sent in one raw statement.
    with transaction.atomic(), connection.cursor() as cursor:
        floor_start = time.perf_counter()
        cursor.execute(
            "UPDATE notifications_outbox SET status = 'sent', sent_at = now() WHERE template_key = %s",
            [TEMPLATE_KEY],
        )
        floor_s = time.perf_counter() - floor_start
        transaction.set_rollback(True)
    per_s = len(sends) / send_s if send_s else 0.0
    print(f"raw-SQL floor: {unique / floor_s:.0f} rows/s; senders at {per_s / (unique / floor_s):.3f} of it")
    shutil.rmtree(work, ignore_errors=True)
    broadcast = broadcast_bench(2_000 if args.small else 100_000, per_one=enqueued / enqueue_s)
    bench_line(
        "outbox",
        enqueued=enqueued,
        unique=unique,
        sent=sent_ours,
        sent_twice=sent_twice,
        per_s=round(per_s, 1),
        **broadcast,
    )


BROADCAST_MARK = "broadcast-bench"


def broadcast_bench(n: int, *, per_one: float) -> dict:
    """Fix a broadcast's audience over ``n`` consenting people, start it twice at once, count
    the people queued twice; the rows are deleted afterwards (they would count toward the
    contact cap of the next run)."""
    import threading

    from django.db import connection, transaction

    from benchmarks._common import synthetic_people
    from clinic.models import Branch
    from clinic.notifications.models import ContactCap, Outbox
    from marketing import broadcast_services, segments
    from marketing.segment_models import Segment

    branch = Branch.objects.get_or_create(code="OBBC", defaults={"name": "群发基准门店"})[0]
    ids = synthetic_people(n, branch.pk, mark=BROADCAST_MARK, name="群发", stage="patient", phones=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "INSERT INTO members_consent (member_id, kind, channel, granted_at, note)"
            " SELECT m.id, 'marketing_sms', 'paper', now(), '' FROM members_member m"
            " WHERE m.other_contacts = %s AND NOT EXISTS (SELECT 1 FROM members_consent c"
            " WHERE c.member_id = m.id AND c.kind = 'marketing_sms' AND c.withdrawn_at IS NULL)",
            [BROADCAST_MARK],
        )
        cursor.execute("ANALYZE members_consent")
    ContactCap.objects.update_or_create(pk=1, defaults={"limit": 4, "is_active": True})
    segment = Segment.objects.filter(branch=branch, name="群发基准").first() or segments.segment_create(
        actor=None, name="群发基准", branch=branch, filters={}
    )
    start = time.perf_counter()
    broadcast = broadcast_services.broadcast_create(
        actor=None, segment=segment, channel="sms", name="群发基准", body="{name}您好，本周洁牙八折。回T退订"
    )
    audience_s = time.perf_counter() - start
    if broadcast.status != "ready":  # above the approval threshold: the benchmark approves it
        type(broadcast).objects.filter(pk=broadcast.pk).update(status="ready")
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(broadcast_services.broadcast_send(actor=None, broadcast=broadcast))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    enqueue_s = time.perf_counter() - start
    rows = Outbox.objects.filter(template_key=broadcast.template_key)
    queued = rows.count()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT person_key FROM notifications_outbox WHERE template_key = %s"
            " GROUP BY person_key HAVING count(*) > 1) t",
            [broadcast.template_key],
        )
        sent_twice = cursor.fetchone()[0]
    # The floor: the same rows written by one raw INSERT … SELECT without cap or consent checks.
    with transaction.atomic(), connection.cursor() as cursor:
        floor_start = time.perf_counter()
        cursor.execute(
            "INSERT INTO notifications_outbox (dedupe_key, channel, recipient, template_key, language, params,"
            " purpose, consent_ref, person_key, status, attempts, next_attempt_at, claim_token, last_error,"
            " provider_message_id, body, created_at)"
            " SELECT 'floor:' || m.id, 'sms', m.phone, 'bench.floor', 'zh-hans', jsonb_build_object('name', m.name),"
            " 'marketing', '1', 'member:' || m.id, 'pending', 0, now(), '', '', '', '', now()"
            " FROM members_member m WHERE m.id = ANY(%s)",
            [ids],
        )
        floor_s = time.perf_counter() - floor_start
        transaction.set_rollback(True)
    rows.delete()
    print(
        f"broadcast: audience of {broadcast.audience_count} fixed in {audience_s:.2f}s; started twice at once, "
        f"{results} rows inserted by the two starts, {queued} queued in {enqueue_s:.2f}s "
        f"({queued / max(enqueue_s, 0.001):.0f}/s, one at a time: {per_one:.0f}/s); raw INSERT … SELECT floor "
        f"{floor_s:.2f}s; people queued twice: {sent_twice}"
    )
    return {
        "broadcast_recipients": queued,
        "broadcast_enqueue_s": round(enqueue_s, 2),
        "broadcast_sent_twice": sent_twice,
    }


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
