"""Database backups: pg_dump in custom format, optional streamed encryption, rotation, and
the restore drill (docs/operations.md "Backup").

- ``backup_create`` opens a REPEATABLE READ transaction, exports its snapshot, counts every
  table's rows in it and runs ``pg_dump --snapshot`` on the same snapshot: the counts are
  exactly what the dump holds, so the drill can compare them to the row.
- Encryption (``BACKUP_ENCRYPTION_KEY``): AES-256-GCM over 1 MiB chunks, each chunk's nonce =
  a random prefix + its counter + a final-chunk flag, so chunks cannot be reordered, dropped or
  the file cut short without decryption failing. Streams both ways; nothing is held in memory.
- Rotation (``backups_to_keep``): the newest dump of each of the last 7 days, 4 ISO weeks and
  12 months that have one; every other ``clinic-*.dump*`` file in ``BACKUP_DIR`` is deleted.
- ``restore_drill`` restores the newest good dump into a scratch database, compares every
  table's row count with the counts taken at dump time, and runs the checks higher apps
  register (``register_restore_check``: the loyalty ledger reconciliation), then drops it.

clinic is the lowest layer: it knows nothing of loyalty; loyalty registers its check.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import BackupRun, BackupStatus

log = logging.getLogger(__name__)

MAGIC = b"CLNCBAK1"
CHUNK = 1 << 20
_NAME = re.compile(r"^clinic-(\d{8}T\d{6}Z)\.dump(\.enc)?$")


class BackupError(Exception):
    pass


# --- checks other apps add to the drill ---------------------------------------------------

# name → fn(cursor) returning a list of problems (empty = fine). The cursor is a psycopg
# cursor on the restored scratch database.
RESTORE_CHECKS: dict[str, Callable[[Any], list]] = {}


def register_restore_check(name: str, check: Callable[[Any], list]) -> None:
    RESTORE_CHECKS[name] = check


# --- encryption ---------------------------------------------------------------------------


def _key() -> bytes | None:
    raw = settings.BACKUP_ENCRYPTION_KEY
    if not raw:
        return None
    try:
        key = base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4))
    except ValueError as exc:
        raise BackupError("BACKUP_ENCRYPTION_KEY is not base64") from exc
    if len(key) != 32:
        raise BackupError("BACKUP_ENCRYPTION_KEY must be 32 bytes (base64)")
    return key


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _nonce(prefix: bytes, counter: int, final: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if final else b"\x00")


def encrypt_stream(source: IO[bytes], target: IO[bytes], key: bytes) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(key)
    prefix = os.urandom(7)
    target.write(MAGIC + prefix)
    counter = 0
    chunk = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if chunk else b""
        final = not following
        sealed = aead.encrypt(_nonce(prefix, counter, final), chunk, MAGIC)
        target.write(struct.pack(">I", len(sealed)) + sealed)
        if final:
            return
        chunk, counter = following, counter + 1


def decrypt_stream(source: IO[bytes], key: bytes) -> Iterator[bytes]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(key)
    head = source.read(len(MAGIC) + 7)
    if head[: len(MAGIC)] != MAGIC:
        raise BackupError("not an encrypted clinic backup")
    prefix = head[len(MAGIC) :]
    counter = 0
    while True:
        size_raw = source.read(4)
        if len(size_raw) < 4:
            raise BackupError("the encrypted backup is truncated")
        sealed = source.read(struct.unpack(">I", size_raw)[0])
        for final in (False, True):
            try:
                plain = aead.decrypt(_nonce(prefix, counter, final), sealed, MAGIC)
            except InvalidTag:
                continue
            yield plain
            if final:
                if source.read(1):
                    raise BackupError("data after the final chunk")
                return
            break
        else:
            raise BackupError("the encrypted backup is damaged or the key is wrong")
        counter += 1


# --- the PostgreSQL tools and connection ----------------------------------------------------


def _db() -> dict:
    return settings.DATABASES["default"]


def _libpq_env(dbname: str | None = None) -> dict[str, str]:
    db = _db()
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", db.get("HOST")),
        ("PGPORT", db.get("PORT")),
        ("PGUSER", db.get("USER")),
        ("PGPASSWORD", db.get("PASSWORD")),
        ("PGDATABASE", dbname or db["NAME"]),
    ):
        if value:
            env[var] = str(value)
    return env


def _connect(dbname: str | None = None, **kwargs):
    import psycopg

    db = _db()
    params = {
        "dbname": dbname or db["NAME"],
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    return psycopg.connect(**{k: v for k, v in params.items() if v}, **kwargs)


def pg_tool(name: str) -> str:
    """pg_dump/pg_restore of the server's major version: ``BACKUP_PG_BIN_DIR``, else
    /usr/lib/postgresql/<major>/bin, else the PATH's (refused when its major is older)."""
    if settings.BACKUP_PG_BIN_DIR:
        return str(Path(settings.BACKUP_PG_BIN_DIR) / name)
    major = connection.cursor().connection.info.server_version // 10000
    debian = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if debian.exists():
        return str(debian)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found; set BACKUP_PG_BIN_DIR")
    out = subprocess.run([found, "--version"], capture_output=True, text=True, check=True).stdout
    tool_major = int(re.search(r"(\d+)", out.split(")")[-1]).group(1))
    if tool_major < major:
        raise BackupError(f"{found} is version {tool_major}, the server {major}; set BACKUP_PG_BIN_DIR")
    return found


def _table_counts(cursor) -> dict[str, int]:
    cursor.execute(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY c.relname"""
    )
    names = [row[0] for row in cursor.fetchall()]
    counts = {}
    for name in names:
        cursor.execute(f'SELECT count(*) FROM public."{name}"')
        counts[name] = cursor.fetchone()[0]
    return counts


# --- backup and rotation ---------------------------------------------------------------------


def backup_dir() -> Path:
    path = Path(settings.BACKUP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def backup_create(*, now: dt.datetime | None = None) -> BackupRun:
    """Dump the database into ``BACKUP_DIR`` (encrypted when a key is set), record the run,
    then rotate. A failure is recorded on the run (status failed) and raised."""
    now = now or timezone.now()
    key = _key()
    name = f"clinic-{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.dump" + (".enc" if key else "")
    run = BackupRun.objects.create(started_at=now, file_name=name, encrypted=bool(key))
    target = backup_dir() / name
    partial = target.with_name(target.name + ".part")
    try:
        import psycopg

        pg_dump = pg_tool("pg_dump")
        with _connect() as snap:
            snap.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            snap.read_only = True
            with snap.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                counts = _table_counts(cursor)
            # The snapshot stays valid while this transaction is open, i.e. until pg_dump ends.
            with partial.open("wb") as out:
                proc = subprocess.Popen(
                    [pg_dump, "--format=custom", "--no-owner", f"--snapshot={snapshot}"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=_libpq_env(),
                )
                if key:
                    encrypt_stream(proc.stdout, out, key)
                else:
                    shutil.copyfileobj(proc.stdout, out, CHUNK)
                proc.stdout.close()
                stderr = proc.stderr.read().decode(errors="replace")
                if proc.wait() != 0:
                    raise BackupError(f"pg_dump failed: {stderr.strip()[:2000]}")
        os.replace(partial, target)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        BackupRun.objects.filter(pk=run.pk).update(
            status=BackupStatus.FAILED, finished_at=timezone.now(), error=str(exc)[:4000]
        )
        log.error("backup failed: %s", exc)
        raise
    BackupRun.objects.filter(pk=run.pk).update(
        status=BackupStatus.OK,
        finished_at=timezone.now(),
        size_bytes=target.stat().st_size,
        table_counts=counts,
    )
    backups_rotate(now=now)
    run.refresh_from_db()
    return run


def _stamp(path: Path) -> dt.datetime | None:
    match = _NAME.match(path.name)
    if not match:
        return None
    return dt.datetime.strptime(match[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def backups_to_keep(
    stamps: Iterable[dt.datetime], *, daily: int, weekly: int, monthly: int, tz=None
) -> set[dt.datetime]:
    """Grandfather-father-son: the newest stamp of each of the newest ``daily`` days,
    ``weekly`` ISO weeks and ``monthly`` months that have one (days in the clinic's zone)."""
    tz = tz or timezone.get_current_timezone()
    ordered = sorted(stamps, reverse=True)
    keep: set[dt.datetime] = set()
    for limit, bucket in (
        (daily, lambda d: d.date()),
        (weekly, lambda d: d.isocalendar()[:2]),
        (monthly, lambda d: (d.year, d.month)),
    ):
        seen: set = set()
        for stamp in ordered:
            b = bucket(stamp.astimezone(tz))
            if b not in seen and len(seen) < limit:
                seen.add(b)
                keep.add(stamp)
    return keep


def backups_rotate(*, now: dt.datetime | None = None) -> list[str]:
    """Delete the dumps the rotation no longer keeps. Returns the deleted file names."""
    files = {p: s for p in backup_dir().iterdir() if (s := _stamp(p)) is not None}
    keep = backups_to_keep(
        files.values(),
        daily=settings.BACKUP_KEEP_DAILY,
        weekly=settings.BACKUP_KEEP_WEEKLY,
        monthly=settings.BACKUP_KEEP_MONTHLY,
    )
    deleted = []
    for path, stamp in sorted(files.items()):
        if stamp not in keep:
            path.unlink(missing_ok=True)
            deleted.append(path.name)
    return deleted


# --- restore drill ---------------------------------------------------------------------------


@dataclass
class DrillResult:
    run: BackupRun
    database: str
    tables: int
    rows: int
    mismatches: dict[str, tuple[int, int]]
    problems: dict[str, list]

    @property
    def ok(self) -> bool:
        return not self.mismatches and not any(self.problems.values())


def _stream_dump(path: Path, encrypted: bool) -> Iterator[bytes]:
    with path.open("rb") as raw:
        if encrypted:
            key = _key()
            if key is None:
                raise BackupError("the dump is encrypted and BACKUP_ENCRYPTION_KEY is not set")
            yield from decrypt_stream(raw, key)
        else:
            while chunk := raw.read(CHUNK):
                yield chunk


def restore_into(path: Path, *, database: str, encrypted: bool) -> None:
    """(Re)create ``database`` and pg_restore the dump into it."""
    from psycopg import sql

    with _connect(dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(database))
        )
    proc = subprocess.Popen(
        [pg_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={database}"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_libpq_env(database),
    )
    try:
        for chunk in _stream_dump(path, encrypted):
            proc.stdin.write(chunk)
    finally:
        proc.stdin.close()
    stderr = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise BackupError(f"pg_restore failed: {stderr.strip()[:2000]}")


def drop_database(database: str) -> None:
    from psycopg import sql

    with _connect(dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def restore_drill(*, keep: bool = False, database: str | None = None) -> DrillResult:
    """Restore the newest good backup into a scratch database and check it. The result is
    recorded on the backup run (drill_* fields)."""
    run = BackupRun.objects.filter(status=BackupStatus.OK).order_by("-started_at", "-id").first()
    if run is None:
        raise BackupError("no successful backup to restore")
    path = backup_dir() / run.file_name
    if not path.exists():
        raise BackupError(f"{path} is missing (rotated away or moved)")
    database = database or f"{_db()['NAME']}_restore_drill"
    if database == _db()["NAME"]:
        raise BackupError("the drill never restores over the live database")
    try:
        restore_into(path, database=database, encrypted=run.encrypted)
        with _connect(dbname=database) as scratch, scratch.cursor() as cursor:
            restored = _table_counts(cursor)
            problems = {name: list(check(cursor)) for name, check in sorted(RESTORE_CHECKS.items())}
        expected = run.table_counts or {}
        mismatches = {
            table: (expected.get(table, -1), restored.get(table, -1))
            for table in sorted(set(expected) | set(restored))
            if expected.get(table) != restored.get(table)
        }
        result = DrillResult(run, database, len(restored), sum(restored.values()), mismatches, problems)
    except Exception as exc:
        BackupRun.objects.filter(pk=run.pk).update(
            drill_at=timezone.now(), drill_status=BackupStatus.FAILED, drill_report={"error": str(exc)[:4000]}
        )
        raise
    finally:
        if not keep:
            drop_database(database)
    BackupRun.objects.filter(pk=run.pk).update(
        drill_at=timezone.now(),
        drill_status=BackupStatus.OK if result.ok else BackupStatus.FAILED,
        drill_report={
            "tables": result.tables,
            "rows": result.rows,
            "mismatches": {t: list(v) for t, v in result.mismatches.items()},
            "problems": {
                k: [list(p) if isinstance(p, tuple) else p for p in v][:50] for k, v in problems.items()
            },
        },
    )
    return result


# --- the home page's heartbeat -----------------------------------------------------------------


@dataclass
class BackupHealth:
    last: BackupRun | None
    last_ok: BackupRun | None
    stale: bool


def backup_health() -> BackupHealth:
    last = BackupRun.objects.order_by("-started_at", "-id").first()
    last_ok = (
        last
        if last is not None and last.status == BackupStatus.OK
        else BackupRun.objects.filter(status=BackupStatus.OK).order_by("-started_at", "-id").first()
    )
    limit = timezone.now() - dt.timedelta(hours=settings.BACKUP_STALE_HOURS)
    stale = (
        last_ok is None
        or last_ok.started_at < limit
        or (last is not None and last.status == BackupStatus.FAILED)
    )
    return BackupHealth(last, last_ok, stale)
