"""Shared pieces of the benchmarks: database set-up, COPY loading, timing, the BENCH line.

Every benchmark runs against ``DATABASE_URL`` when set, otherwise against a separate
``clinic_bench`` database on the embedded server (the demo data stays untouched). Each one
prints its figures with the raw-SQL floor measured in the same run, and ends with one line
``BENCH <name> key=value …``. Timed assertions never go into tests.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent


def setup_django(migrate: bool = True) -> None:
    """Configure Django for a benchmark run and bring the schema up to date."""
    sys.path.insert(0, str(BASE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings.local")
    os.environ.setdefault("DEBUG", "false")
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("CLINIC_EMBEDDED_DB", "clinic_bench")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--small", action="store_true", help="a quick run at a small scale (make bench)")
    return p


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence], batch: int = 50_000) -> int:
    """Load rows with COPY (text format). Values are converted with str(); None is NULL."""
    from django.db import connection

    def encode(value) -> str:
        if value is None:
            return r"\N"
        text = str(value)
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    total = 0
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor:
        buffer = io.StringIO()
        count = 0
        for row in rows:
            buffer.write("\t".join(encode(v) for v in row))
            buffer.write("\n")
            count += 1
            if count >= batch:
                _flush(cursor, sql, buffer)
                total += count
                buffer, count = io.StringIO(), 0
        if count:
            _flush(cursor, sql, buffer)
            total += count
    return total


def _flush(cursor, sql: str, buffer: io.StringIO) -> None:
    with cursor.cursor.copy(sql) as copy:
        copy.write(buffer.getvalue())


def time_calls(fn: Callable[[], object], repeat: int, warmup: int = 3) -> list[float]:
    """Milliseconds per call, after a few warm-up calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p95(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def summary(samples: Sequence[float]) -> str:
    return f"median={statistics.median(samples):.2f}ms p95={p95(samples):.2f}ms"


def raw_sql(sql: str, params: Sequence | None = None) -> Callable[[], list]:
    """A callable running ``sql`` through the bare cursor: the floor an ORM query is held to."""
    from django.db import connection

    def run() -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql, params or [])
            return cursor.fetchall()

    return run


def bench_line(name: str, **figures) -> str:
    def fmt(value) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    line = "BENCH " + name + " " + " ".join(f"{k}={fmt(v)}" for k, v in figures.items())
    print(line, flush=True)
    return line


# Every column of ``members_member`` a COPY of synthetic people fills, in order.
MEMBER_COLUMNS = (
    "name", "gender", "birth_date", "phone", "other_contacts", "wechat_id", "id_number",
    "id_number_hash", "id_number_masked", "address", "occupation", "notes", "branch_id",
    "channel_id", "consultant_id", "stage", "status", "language", "card_no",
    "marketing_opt_out", "allergies", "conditions", "dental_history", "has_medical_alerts",
    "last_visit_at", "created_at", "updated_at", "phone_digits", "phone_last4", "pinyin_full",
    "pinyin_initials", "name_grams",
)  # fmt: skip


def synthetic_people(
    n: int,
    branch_id: int,
    *,
    mark: str,
    name: str,
    stage: str,
    phones: bool,
    phone_prefix: str = "139",
    created_days: int = 0,
) -> list[int]:
    """Ids of ``n`` synthetic people tagged ``mark`` (in ``other_contacts``): the missing ones
    are made with COPY (history and foreign-key triggers off: synthetic rows, not changes
    anyone made); later runs reuse them. ``phones`` gives each a distinct number
    ``<phone_prefix><8 digits>`` (the i-th person's digits are i, so later runs extend the
    series without repeating a number). ``created_days`` spreads their registration over that
    many days before now (a clinic's people arrive over years; 0: all now)."""
    import datetime as dt
    import random

    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM members_member WHERE other_contacts = %s ORDER BY id", [mark])
        ids = [r[0] for r in cursor.fetchall()]
    if len(ids) >= n:
        return ids[:n]
    start = time.perf_counter()
    now_at = dt.datetime.now(dt.UTC)
    now = now_at.isoformat()
    missing = n - len(ids)
    rng = random.Random(len(ids) + branch_id)

    def rows():
        for i in range(len(ids), n):
            digits = f"{phone_prefix}{i % 100_000_000:08d}" if phones else ""
            created = (
                (now_at - dt.timedelta(seconds=rng.randrange(1, created_days * 86400))).isoformat()
                if created_days
                else now
            )
            yield (
                f"{name}{i % 1000}", "", None, f"+86{digits}" if phones else "", mark, "", "", "", "", "", "",
                "", branch_id, None, None, stage, "active", "zh-hans", None, "f", "", "", "", "f", None, created,
                created, digits, digits[-4:], "", "", "{}",
            )  # fmt: skip

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        copy_rows("members_member", MEMBER_COLUMNS, rows())
        cursor.execute("ANALYZE members_member")
    print(f"generated {missing} people in {time.perf_counter() - start:.1f}s", flush=True)
    return synthetic_people(
        n, branch_id, mark=mark, name=name, stage=stage, phones=phones, phone_prefix=phone_prefix
    )
