"""The points ledger at scale: the nightly expiry job next to one raw set-based statement
doing the same work, then concurrent earn/redeem on a few accounts, then reconciliation.

    python -m benchmarks.loyalty --members 1000000 --lots 10000000
    python -m benchmarks.loyalty --small          # 20,000 members, 200,000 lots (make bench)

Data is generated with COPY (history and foreign-key triggers off for the load session:
synthetic rows, not changes anyone made). Lots are earned over the last 15 months and
expire 12 months after, so about a fifth are due when the job runs.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

from benchmarks._common import bench_line, copy_rows, parser, setup_django, synthetic_people

MARK = "loyalty-bench"


def _members(n: int, branch_id: int) -> list[int]:
    """Ids of ``n`` synthetic people (created once with COPY, reused by later runs)."""
    return synthetic_people(n, branch_id, mark=MARK, name="积分", stage="member", phones=False)


def _clear_ledger() -> None:
    """Remove earlier bench ledgers. TRUNCATE when every account is a bench account (the
    bench database), else a targeted delete."""
    from django.db import connection, transaction

    tables = [
        "loyalty_lotconsumption",
        "loyalty_expirywarning",
        "loyalty_ledgerdrift",
        "loyalty_pointslot",
        "loyalty_pointsentry",
        "loyalty_pointsaccount",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """SELECT COUNT(*) FROM loyalty_pointsaccount a JOIN members_member m ON m.id = a.member_id
               WHERE m.other_contacts <> %s""",
            [MARK],
        )
        if cursor.fetchone()[0] == 0:
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
            return
        cursor.execute("SET LOCAL session_replication_role = replica")
        bench = "SELECT a.id FROM loyalty_pointsaccount a JOIN members_member m ON m.id = a.member_id WHERE m.other_contacts = %s"
        cursor.execute(
            "DELETE FROM loyalty_lotconsumption WHERE entry_id IN "
            f"(SELECT id FROM loyalty_pointsentry WHERE account_id IN ({bench}))",
            [MARK],
        )
        for table in tables[1:5]:
            cursor.execute(f"DELETE FROM {table} WHERE account_id IN ({bench})", [MARK])
        cursor.execute(f"DELETE FROM loyalty_pointsaccount WHERE id IN ({bench})", [MARK])


_SECONDARY = ("loyalty_pointsentry", "loyalty_pointslot", "loyalty_pointsaccount")


def _drop_indexes(cursor) -> list[str]:
    cursor.execute(
        """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)
           AND indexname NOT LIKE '%%pkey'""",
        [list(_SECONDARY)],
    )
    # Unique indexes stay (they are what the job's idempotency relies on); the others are
    # rebuilt after the load, far faster than maintained row by row.
    rows = [(n, d) for n, d in cursor.fetchall() if "UNIQUE" not in d]
    for name, _definition in rows:
        cursor.execute(f'DROP INDEX "{name}"')
    return [d for _n, d in rows]


def generate(member_ids: list[int], lots: int) -> float:
    from django.db import connection, transaction

    start = time.perf_counter()
    rng = random.Random(5)
    now = dt.datetime.now(dt.UTC)
    today = dt.date.today()
    per = max(1, lots // len(member_ids))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        definitions = _drop_indexes(cursor)
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM loyalty_pointsaccount")
        acc0 = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM loyalty_pointsentry")
        ent0 = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM loyalty_pointslot")
        lot0 = cursor.fetchone()[0]
        balances: list[int] = []
        entries: list[tuple] = []
        lot_rows: list[tuple] = []
        made = 0

        def flush():
            copy_rows(
                "loyalty_pointsentry",
                ["id", "account_id", "kind", "points", "balance_after", "idempotency_key", "source_key", "reason", "shortfall", "created_at"],
                entries,
            )  # fmt: skip
            copy_rows(
                "loyalty_pointslot",
                ["id", "account_id", "entry_id", "points", "remaining", "earned_at", "expires_on"],
                lot_rows,
            )
            entries.clear()
            lot_rows.clear()

        for i, _member in enumerate(member_ids):
            account = acc0 + i + 1
            count = per if i < len(member_ids) - 1 else max(1, lots - made)
            balance = 0
            for _ in range(count):
                made += 1
                points = rng.randrange(1, 500)
                days = rng.randrange(0, 455)
                earned = now - dt.timedelta(days=days)
                day = today - dt.timedelta(days=days)
                try:
                    expires = day.replace(year=day.year + 1) - dt.timedelta(days=1)
                except ValueError:
                    expires = dt.date(day.year + 1, 2, 28)
                balance += points
                entries.append(
                    (
                        ent0 + made,
                        account,
                        "earn",
                        points,
                        balance,
                        f"b:{made}",
                        "",
                        "",
                        0,
                        earned.isoformat(),
                    )
                )
                lot_rows.append(
                    (
                        lot0 + made,
                        account,
                        ent0 + made,
                        points,
                        points,
                        earned.isoformat(),
                        expires.isoformat(),
                    )
                )
            balances.append(balance)
            if len(entries) >= 200_000:
                flush()
        flush()
        copy_rows(
            "loyalty_pointsaccount",
            ["id", "member_id", "balance", "is_open", "opened_at", "updated_at"],
            (
                (acc0 + i + 1, m, balances[i], "t", now.isoformat(), now.isoformat())
                for i, m in enumerate(member_ids)
            ),
        )
        loaded = time.perf_counter()
        for definition in definitions:
            cursor.execute(definition)
        for table, start_id in (
            ("loyalty_pointsaccount", acc0 + len(member_ids)),
            ("loyalty_pointsentry", ent0 + made),
            ("loyalty_pointslot", lot0 + made),
        ):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [start_id])
        print(
            f"generated {made} lots: load {loaded - start:.1f}s, indexes {time.perf_counter() - loaded:.1f}s",
            flush=True,
        )
    with connection.cursor() as cursor:
        for table in _SECONDARY:
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - start


FLOOR_SQL = """
WITH due AS (
    SELECT id, account_id, remaining FROM loyalty_pointslot WHERE remaining > 0 AND expires_on < %(today)s
),
lots AS (UPDATE loyalty_pointslot SET remaining = 0 WHERE remaining > 0 AND expires_on < %(today)s),
entries AS (
    INSERT INTO loyalty_pointsentry
        (account_id, kind, points, balance_after, idempotency_key, source_key, reason, lot_id, shortfall, created_at)
    SELECT account_id, 'expire', -remaining, 0, 'expire:lot:' || id, '', '', id, 0, now() FROM due
),
accounts AS (
    UPDATE loyalty_pointsaccount a SET balance = a.balance - s.total
    FROM (SELECT account_id, SUM(remaining) AS total FROM due GROUP BY account_id ORDER BY account_id) s
    WHERE a.id = s.account_id
)
SELECT COUNT(*) FROM due
"""


def floor_expiry() -> tuple[float, int]:
    """One raw statement doing the job's work, timed, then rolled back."""
    from django.db import connection, transaction

    start = time.perf_counter()
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute(FLOOR_SQL, {"today": dt.date.today()})
                count = cursor.fetchone()[0]
                elapsed = time.perf_counter() - start
                raise _Rollback
        except _Rollback:
            pass
    return elapsed, count


class _Rollback(Exception):
    pass


def concurrent(accounts: int, ops: int, threads: int = 20) -> tuple[int, int]:
    """``ops`` earn/redeem calls spread over ``threads`` threads on ``accounts`` accounts."""
    from django.db import connection

    from loyalty import services
    from loyalty.errors import LoyaltyError
    from members.models import Member

    members = list(Member.objects.filter(other_contacts=MARK).order_by("id")[:accounts])
    done = [0]
    refused = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(t: int) -> None:
        rng = random.Random(t)
        barrier.wait()
        try:
            for k in range(ops // threads):
                member = rng.choice(members)
                key = f"bench:{t}:{k}:{time.time_ns()}"
                try:
                    if rng.random() < 0.5:
                        services.points_earn(
                            actor=None, member=member, points=rng.randrange(1, 100), idempotency_key=key
                        )
                    else:
                        services.points_redeem(
                            actor=None, member=member, points=rng.randrange(1, 300), idempotency_key=key
                        )
                except LoyaltyError:
                    with lock:
                        refused[0] += 1
                with lock:
                    done[0] += 1
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done[0], refused[0]


def main() -> None:
    args_parser = parser("Points ledger benchmark")
    args_parser.add_argument("--members", type=int, default=1_000_000)
    args_parser.add_argument("--lots", type=int, default=10_000_000)
    args_parser.add_argument("--ops", type=int, default=200)
    args_parser.add_argument("--accounts", type=int, default=20)
    args = args_parser.parse_args()
    if args.small:
        args.members, args.lots = 20_000, 200_000
    setup_django()

    from clinic.models import Branch
    from loyalty import services

    branch, _ = Branch.objects.get_or_create(code="LB", defaults={"name": "积分基准门店"})
    member_ids = _members(args.members, branch.pk)
    _clear_ledger()
    gen_s = generate(member_ids, args.lots)
    print(f"data ready in {gen_s:.1f}s", flush=True)

    floor_s, due = floor_expiry()
    print(f"floor: one raw statement expires {due} lots in {floor_s:.2f}s (rolled back)", flush=True)
    start = time.perf_counter()
    lots, points = services.points_expire_due()
    expiry_s = time.perf_counter() - start
    print(
        f"expiry job: {lots} lots, {points} points in {expiry_s:.2f}s (ratio {expiry_s / max(floor_s, 1e-9):.2f})"
    )
    again = services.points_expire_due()
    print(f"second run: {again[0]} lots (idempotent)", flush=True)

    ops, refused = concurrent(args.accounts, args.ops)
    print(
        f"concurrent: {ops} earn/redeem operations on {args.accounts} accounts, {refused} refused (not enough points)"
    )
    drift = len(services.ledger_drift_rows())
    bench_line(
        "loyalty",
        members=len(member_ids),
        lots=args.lots,
        expiry_s=expiry_s,
        floor_expiry_s=floor_s,
        concurrent_ops=ops,
        drift=drift,
    )


if __name__ == "__main__":
    main()
