"""The ledger's nightly jobs: expire due lots (set-based, batched, on several connections),
warn members before their points expire, and prove every balance against its entries and
lots. The rules they keep are in ``ledger``."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clinic.services import audit_record
from members.models import Member

from ..models import PointsAccount
from .ledger import policy

log = logging.getLogger(__name__)

_EXPIRE_SQL = """
WITH due AS (
    SELECT l.id, l.account_id, l.remaining,
           a.balance - SUM(l.remaining) OVER (
               PARTITION BY l.account_id ORDER BY l.expires_on, l.id
           ) AS balance_after
    FROM loyalty_pointslot l
    JOIN loyalty_pointsaccount a ON a.id = l.account_id AND a.id = ANY(%(ids)s)
    WHERE l.account_id = ANY(%(ids)s) AND l.remaining > 0 AND l.expires_on < %(today)s
),
lots AS (
    -- The same rows as ``due`` (one snapshot, accounts locked), without joining back to
    -- ``due``: a hash join there visits the lots in hash order, and at millions of rows
    -- the random writes, not the work, set the time.
    UPDATE loyalty_pointslot SET remaining = 0
    WHERE account_id = ANY(%(ids)s) AND remaining > 0 AND expires_on < %(today)s
),
entries AS (
    INSERT INTO loyalty_pointsentry
        (account_id, kind, points, balance_after, idempotency_key, source_key, reason,
         lot_id, shortfall, created_at)
    SELECT account_id, 'expire', -remaining, balance_after, 'expire:lot:' || id, '', '',
           id, 0, %(now)s
    FROM due
    ORDER BY account_id, balance_after DESC
),
accounts AS (
    UPDATE loyalty_pointsaccount a SET balance = a.balance - s.total, updated_at = %(now)s
    FROM (
        SELECT account_id, SUM(remaining) AS total FROM due GROUP BY account_id ORDER BY account_id
    ) s
    WHERE a.id = s.account_id
)
SELECT COUNT(*), COALESCE(SUM(remaining), 0) FROM due
"""


def _due_account_ids(today: dt.date) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT account_id FROM loyalty_pointslot WHERE remaining > 0 AND expires_on < %s",
            [today],
        )
        return sorted(row[0] for row in cursor.fetchall())


def points_expire_due(
    *, today: dt.date | None = None, batch: int = 20_000, workers: int | None = None
) -> tuple[int, int]:
    """Expire every open lot whose last valid day is before ``today``: one expire entry per
    lot (key ``expire:lot:<id>``), set-based, in batches of accounts. Idempotent: an expired
    lot has nothing left, so a second run finds nothing. Returns (lots, points) expired.

    ``workers`` (default ``LOYALTY_EXPIRY_WORKERS``) connections work on disjoint batches
    at once: each batch is its own transaction and locks only its accounts, in id order, so
    the workers never wait on each other. Inside a transaction (tests, a caller's atomic
    block) the work stays on the caller's connection, where the caller's rows are visible."""
    today = today or timezone.localdate()
    ids = _due_account_ids(today)
    chunks = [ids[start : start + batch] for start in range(0, len(ids), batch)]
    workers = max(1, workers or getattr(settings, "LOYALTY_EXPIRY_WORKERS", 1))
    if workers == 1 or len(chunks) < 2 or connection.in_atomic_block:
        results = [_expire_chunk(chunk, today) for chunk in chunks]
    else:
        results = _in_threads(workers, chunks, lambda chunk: _expire_chunk(chunk, today))
    return sum(r[0] for r in results), sum(r[1] for r in results)


def _in_threads(workers: int, items: list, fn) -> list:
    """``fn`` over ``items`` on ``workers`` threads, each with its own database connection
    (closed when the thread is done). The first exception is raised once all have stopped."""
    from concurrent.futures import ThreadPoolExecutor

    def run(item):
        try:
            return fn(item)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, items))


def _expire_chunk(chunk: list[int], today: dt.date) -> tuple[int, int]:
    with transaction.atomic(), connection.cursor() as cursor:
        # Account rows first, in id order, like every other writer: the statement below
        # then sees the lots as the last committed writer left them.
        cursor.execute(
            "SELECT id FROM loyalty_pointsaccount WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [chunk]
        )
        cursor.execute(_EXPIRE_SQL, {"ids": chunk, "today": today, "now": timezone.now()})
        n, total = cursor.fetchone()
        if n:
            audit_record(
                actor=None,
                action="loyalty.points.expired",
                changes={"lots": n, "points": int(total), "before": today, "accounts": len(chunk)},
            )
    return n, int(total)


def points_expiry_warn(*, today: dt.date | None = None, batch: int = 500) -> int:
    """Warn each member whose points expire within the policy's warning window: one message
    per account and expiry date (an ``ExpiryWarning`` row, and the outbox dedupe key), so a
    re-run, or a run on the next day, never warns twice. Returns the warnings queued."""
    from ..notify import notify_member

    today = today or timezone.localdate()
    rules = policy()
    until = today + dt.timedelta(days=rules.warn_days)
    sent = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                WITH due AS (
                    SELECT l.account_id, l.expires_on, SUM(l.remaining) AS points
                    FROM loyalty_pointslot l
                    WHERE l.remaining > 0 AND l.expires_on >= %(today)s AND l.expires_on <= %(until)s
                      AND NOT EXISTS (
                          SELECT 1 FROM loyalty_expirywarning w
                          WHERE w.account_id = l.account_id AND w.expires_on = l.expires_on
                      )
                    GROUP BY l.account_id, l.expires_on
                    ORDER BY l.account_id, l.expires_on
                    LIMIT %(batch)s
                )
                INSERT INTO loyalty_expirywarning (account_id, expires_on, points, created_at)
                SELECT account_id, expires_on, points, %(now)s FROM due
                ON CONFLICT (account_id, expires_on) DO NOTHING
                RETURNING account_id, expires_on, points
                """,
                {"today": today, "until": until, "batch": batch, "now": timezone.now()},
            )
            rows = cursor.fetchall()
            if not rows:
                return sent
            accounts = dict(
                PointsAccount.objects.filter(pk__in={r[0] for r in rows}).values_list("pk", "member_id")
            )
            members = Member.objects.in_bulk({accounts[r[0]] for r in rows})
            for account_id, expires_on, points in rows:
                member = members[accounts[account_id]]
                notify_member(
                    member=member,
                    template_key="loyalty.points_expiring",
                    params={"name": member.name, "points": points, "date": expires_on.isoformat()},
                    dedupe_key=f"loyalty:points-expiring:{member.pk}:{expires_on.isoformat()}",
                    branch=member.branch,
                )
                sent += 1


_RECONCILE_SQL = """
SELECT a.id, a.balance, COALESCE(e.total, 0), COALESCE(l.total, 0)
FROM loyalty_pointsaccount a
LEFT JOIN (SELECT account_id, SUM(points) AS total FROM loyalty_pointsentry GROUP BY account_id) e
       ON e.account_id = a.id
LEFT JOIN (SELECT account_id, SUM(remaining) AS total FROM loyalty_pointslot WHERE remaining > 0
           GROUP BY account_id) l
       ON l.account_id = a.id
WHERE a.balance <> COALESCE(e.total, 0) OR COALESCE(e.total, 0) <> COALESCE(l.total, 0)
ORDER BY a.id
"""


def ledger_drift_rows() -> list[tuple[int, int, int, int]]:
    """(account, balance, sum of entries, sum of open lots) for every account that drifted,
    read from one consistent snapshot."""
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:  # inside a caller's transaction, its snapshot rules
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute(_RECONCILE_SQL)
        return [tuple(int(v) for v in row) for row in cursor.fetchall()]


def points_reconcile(*, actor=None) -> list:
    """Prove balance == sum(entries) == sum(open lots) for every account. Each drifted
    account gets a ``LedgerDrift`` row (shown in admin), the run an audit row, and the HQ
    admins an e-mail. Returns the drift rows created."""

    rows = ledger_drift_rows()
    if not rows:
        return []
    with transaction.atomic():
        return _report_drift(rows, actor)


def _report_drift(rows, actor) -> list:
    from ..models import LedgerDrift

    drifts = LedgerDrift.objects.bulk_create(
        [LedgerDrift(account_id=a, balance=b, entries_sum=e, lots_sum=lt) for a, b, e, lt in rows]
    )
    audit_record(
        actor=actor,
        action="loyalty.ledger.drift_detected",
        changes={"accounts": [r[0] for r in rows[:100]], "count": len(rows)},
    )
    log.error("points ledger drift in %s accounts: %s", len(rows), [r[0] for r in rows[:20]])
    notify_admins_of_drift(len(rows))
    return drifts


_DRIFT_TEMPLATES = {"points": "loyalty.ledger_drift", "stored_value": "loyalty.stored_value_drift"}


def notify_admins_of_drift(count: int, *, ledger: str = "points") -> None:
    """E-mail the HQ admins that a reconciliation of ``ledger`` found ``count`` drifted
    accounts (once a day each)."""
    from django.contrib.auth import get_user_model

    from clinic.notifications.errors import NotificationError
    from clinic.notifications.models import Channel, Purpose
    from clinic.notifications.services import notification_enqueue

    day = timezone.localdate().isoformat()
    admins = (
        get_user_model().objects.filter(is_active=True, groups__name="总部管理员", email__gt="").distinct()
    )
    for admin in admins:
        try:
            notification_enqueue(
                channel=Channel.EMAIL,
                recipient=admin.email,
                template_key=_DRIFT_TEMPLATES[ledger],
                params={"count": count, "date": day},
                purpose=Purpose.SERVICE,
                dedupe_key=f"loyalty:drift:{day}:{admin.pk}"
                if ledger == "points"
                else f"loyalty:{ledger}-drift:{day}:{admin.pk}",
            )
        except NotificationError as exc:  # a bad address must not hide the drift itself
            log.error("cannot tell %s about the ledger drift: %s", admin, exc.message)
