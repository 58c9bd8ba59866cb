"""The stock ledger at scale: COPY-generated items, batches and movements (1M by default)
with balance rows equal to their sums; then the FEFO pick + use of one unit (the service, with
its row locks, audit row and ledger insert) against the raw-SQL floor of the same pick and
update; and the reconciliation (sum of movements = balance rows) against its bare SQL.

    python -m benchmarks.inventory            # 1,000,000 movements
    python -m benchmarks.inventory --small    # 50,000

Ends with ``BENCH inventory movements=… fefo_use_ms=… fefo_floor_ms=… reconcile_ms=…
reconcile_floor_ms=… drift=…``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import statistics

from benchmarks._common import bench_line, copy_rows, parser, raw_sql, setup_django, summary, time_calls

MARK = "BNCH"


def _generate(n_movements: int, branch_ids: list[int]) -> None:
    """Items, batches (10 per item), and movements spread over (branch, batch); each balance
    row is the sum of its movements. Made once per scale (reused by later runs)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from inventory.models import Batch, Item, Movement, StockBalance

    n_items = 500
    n_batches = n_items * 10
    existing = Movement.objects.filter(batch__item__code__startswith=MARK).count()
    if existing >= n_movements:
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {Movement._meta.db_table} WHERE batch_id IN (SELECT b.id FROM {Batch._meta.db_table} b "
                f"JOIN {Item._meta.db_table} i ON i.id = b.item_id WHERE i.code LIKE %s)",
                [MARK + "%"],
            )
            cursor.execute(
                f"DELETE FROM {StockBalance._meta.db_table} WHERE batch_id IN (SELECT b.id FROM {Batch._meta.db_table} b "
                f"JOIN {Item._meta.db_table} i ON i.id = b.item_id WHERE i.code LIKE %s)",
                [MARK + "%"],
            )
        if not Item.objects.filter(code__startswith=MARK).exists():
            copy_rows(
                Item._meta.db_table,
                [
                    "code",
                    "name",
                    "name_en",
                    "kind",
                    "unit",
                    "specification",
                    "default_reorder_level",
                    "is_active",
                ],
                (
                    (f"{MARK}{i:05d}", f"基准物品{i}", "", "consumable", "个", "", 10, True)
                    for i in range(n_items)
                ),
            )
        item_ids = list(
            Item.objects.filter(code__startswith=MARK).order_by("pk").values_list("pk", flat=True)
        )
        if not Batch.objects.filter(item_id__in=item_ids).exists():
            today = timezone.localdate()
            copy_rows(
                Batch._meta.db_table,
                ["item_id", "lot_number", "expiry_date", "supplier", "unit_cost", "created_at"],
                (
                    (
                        item,
                        f"L{j:02d}",
                        today + dt.timedelta(days=30 + 40 * j),
                        "基准供应商",
                        "2.50",
                        timezone.now(),
                    )
                    for item in item_ids
                    for j in range(10)
                ),
            )
        batch_ids = list(Batch.objects.filter(item_id__in=item_ids).values_list("pk", flat=True))
        assert len(batch_ids) == n_batches
        rng = random.Random(20)
        totals: dict[tuple[int, int], int] = {}
        now = timezone.now()

        def rows():
            for k in range(n_movements):
                b = branch_ids[k % len(branch_ids)]
                batch = batch_ids[rng.randrange(len(batch_ids))]
                key = (b, batch)
                have = totals.get(key, 0)
                if have < 5:
                    q, kind = rng.randint(20, 100), "receive"
                else:
                    q, kind = -rng.randint(1, min(5, have)), "use"
                totals[key] = have + q
                yield (b, batch, kind, q, now - dt.timedelta(minutes=n_movements - k), "")

        copy_rows(
            Movement._meta.db_table, ["branch_id", "batch_id", "kind", "quantity", "at", "reason"], rows()
        )
        copy_rows(
            StockBalance._meta.db_table,
            ["branch_id", "batch_id", "quantity"],
            ((b, batch, q) for (b, batch), q in totals.items()),
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Movement._meta.db_table}")
        cursor.execute(f"ANALYZE {StockBalance._meta.db_table}")


def main() -> None:
    args = parser("Stock ledger benchmark").parse_args()
    setup_django()
    n = 50_000 if args.small else 1_000_000

    from django.db import connection, transaction

    from clinic.models import Branch
    from inventory import services
    from inventory.models import Item, Movement, StockBalance

    branches = [
        Branch.objects.get_or_create(code=c, defaults={"name": f"库存基准{c}"})[0] for c in ("IB", "IC")
    ]
    _generate(n, [b.pk for b in branches])
    total = Movement.objects.count()
    print(f"movements in the ledger: {total:,}", flush=True)

    items = list(Item.objects.filter(code__startswith=MARK).order_by("pk")[:200])
    rng = random.Random(7)
    branch = branches[0]

    def use_one():
        item = items[rng.randrange(len(items))]
        # An item that ran out at the branch still makes a full pick.
        with contextlib.suppress(services.InventoryError):
            services.stock_use(actor=None, branch=branch, item=item, quantity=1)

    use = time_calls(use_one, repeat=200)
    print(f"FEFO pick + use (service): {summary(use)}", flush=True)

    pick_sql = (
        f"SELECT s.id FROM {StockBalance._meta.db_table} s JOIN inventory_batch b ON b.id = s.batch_id "
        "WHERE s.branch_id = %s AND b.item_id = %s AND s.quantity > 0 AND b.expiry_date >= current_date "
        "ORDER BY b.expiry_date, b.id LIMIT 1 FOR UPDATE OF s"
    )

    def floor_one():
        item = items[rng.randrange(len(items))]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(pick_sql, [branch.pk, item.pk])
            row = cursor.fetchone()
            if row:
                cursor.execute(
                    f"UPDATE {StockBalance._meta.db_table} SET quantity = quantity - 1 WHERE id = %s",
                    [row[0]],
                )
                cursor.execute(
                    f"INSERT INTO {Movement._meta.db_table} (branch_id, batch_id, kind, quantity, at, reason) "
                    f"SELECT branch_id, batch_id, 'use', -1, now(), '' FROM {StockBalance._meta.db_table} WHERE id = %s",
                    [row[0]],
                )

    floor = time_calls(floor_one, repeat=200)
    print(f"FEFO pick + use (raw SQL floor): {summary(floor)}", flush=True)

    reconcile = time_calls(services.drift_rows, repeat=5, warmup=1)
    floor_sql = raw_sql(
        f"SELECT count(*) FROM (SELECT branch_id, batch_id, sum(quantity) FROM {Movement._meta.db_table} "
        "GROUP BY branch_id, batch_id) m"
    )
    reconcile_floor = time_calls(floor_sql, repeat=5, warmup=1)
    drift = len(services.drift_rows())
    print(
        f"reconciliation (drift_rows): {summary(reconcile)}; floor (bare GROUP BY): {summary(reconcile_floor)}"
    )
    print(f"drift rows: {drift}", flush=True)
    fefo_ms, fefo_floor_ms = statistics.median(use), statistics.median(floor)
    bench_line(
        "inventory",
        movements=total,
        fefo_use_ms=fefo_ms,
        fefo_floor_ms=fefo_floor_ms,
        fefo_ratio=fefo_ms / fefo_floor_ms if fefo_floor_ms else 0.0,
        reconcile_ms=statistics.median(reconcile),
        reconcile_floor_ms=statistics.median(reconcile_floor),
        drift=drift,
    )


if __name__ == "__main__":
    main()
