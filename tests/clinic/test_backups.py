"""Backups (clinic.backups): rotation, streamed encryption, the home page's heartbeat, and —
once per test run — a real pg_dump of the test database restored by the drill."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from clinic import backups
from clinic.models import BackupRun, BackupStatus
from tests.conftest import login

UTC = dt.UTC
SH = ZoneInfo("Asia/Shanghai")


def test_rotation_keeps_7_daily_4_weekly_12_monthly():
    start = dt.datetime(2025, 1, 1, 19, 40, tzinfo=UTC)  # 03:40 in Shanghai
    stamps = [start + dt.timedelta(days=i) for i in range(500)]
    stamps += [s + dt.timedelta(minutes=5) for s in stamps[-3:]]  # a manual run the same night
    keep = backups.backups_to_keep(stamps, daily=7, weekly=4, monthly=12, tz=SH)
    newest = sorted(stamps, reverse=True)
    days = {s.astimezone(SH).date() for s in keep}
    assert len(keep) <= 7 + 4 + 12
    assert newest[0] in keep
    assert (
        sorted(days, reverse=True)[:7] == sorted({s.astimezone(SH).date() for s in newest}, reverse=True)[:7]
    )
    months = {(s.astimezone(SH).year, s.astimezone(SH).month) for s in keep}
    assert len(months) == 12
    # Only the newest dump of a day is kept.
    assert newest[3] not in keep or newest[3].astimezone(SH).date() != newest[0].astimezone(SH).date()


def test_rotation_deletes_files_not_kept(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path
    now = dt.datetime(2026, 12, 7, 19, 40, tzinfo=UTC)
    for i in range(40):
        (tmp_path / f"clinic-{now - dt.timedelta(days=i):%Y%m%dT%H%M%SZ}.dump").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a dump")
    deleted = backups.backups_rotate(now=now)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "notes.txt" in left
    assert len(left) - 1 == 40 - len(deleted)
    assert len(left) - 1 <= 7 + 4 + 12


@pytest.mark.parametrize("size", [0, 10, backups.CHUNK, backups.CHUNK * 2 + 17])
def test_encryption_round_trip(size):
    key = bytes(range(32))
    data = bytes((i * 7) % 251 for i in range(size))
    sealed = io.BytesIO()
    backups.encrypt_stream(io.BytesIO(data), sealed, key)
    assert data[:1000] not in sealed.getvalue() or size == 0
    assert b"".join(backups.decrypt_stream(io.BytesIO(sealed.getvalue()), key)) == data


def test_encryption_detects_truncation_tampering_and_wrong_key():
    key = bytes(range(32))
    sealed = io.BytesIO()
    backups.encrypt_stream(io.BytesIO(b"a" * (backups.CHUNK * 2 + 5)), sealed, key)
    raw = sealed.getvalue()
    first_chunk_end = len(backups.MAGIC) + 7 + 4 + backups.CHUNK + 16
    with pytest.raises(backups.BackupError):  # cut after a whole chunk
        b"".join(backups.decrypt_stream(io.BytesIO(raw[:first_chunk_end]), key))
    tampered = bytearray(raw)
    tampered[100] ^= 1
    with pytest.raises(backups.BackupError):
        b"".join(backups.decrypt_stream(io.BytesIO(bytes(tampered)), key))
    with pytest.raises(backups.BackupError):
        b"".join(backups.decrypt_stream(io.BytesIO(raw), bytes(32)))


@pytest.mark.django_db
def test_home_page_shows_backup_heartbeat_to_managers_only(manager, front_desk):
    page = login(manager).get(reverse("home")).content.decode()
    assert 'data-testid="backup-stale"' in page  # no backup yet
    BackupRun.objects.create(
        started_at=timezone.now() - dt.timedelta(hours=2), status=BackupStatus.OK, size_bytes=5 * 1024 * 1024
    )
    page = login(manager).get(reverse("home")).content.decode()
    assert 'data-testid="backup-health"' in page and 'data-testid="backup-stale"' not in page
    assert "5.0" in page
    assert 'data-testid="backup-health"' not in login(front_desk).get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_stale_after_a_failed_run_or_an_old_backup(settings):
    BackupRun.objects.create(started_at=timezone.now() - dt.timedelta(hours=30), status=BackupStatus.OK)
    assert backups.backup_health().stale
    BackupRun.objects.create(started_at=timezone.now() - dt.timedelta(hours=1), status=BackupStatus.OK)
    assert not backups.backup_health().stale
    BackupRun.objects.create(started_at=timezone.now(), status=BackupStatus.FAILED, error="disk full")
    assert backups.backup_health().stale


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_drill_on_the_real_database(settings, tmp_path, manager):
    """The suite's one real drill: pg_dump (encrypted) of the test database, then the drill
    restores it into a scratch database, compares row counts and runs the reconciliation."""
    import importlib

    from django.apps import apps

    from tests.loyalty.factories import earn, enrolled

    # A transactional test starts from a flushed database: the programme the migrations seed.
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)
    member = enrolled(manager.staff.branches.first(), welcome_points=50).member
    earn(member, 120, "drill:1")

    settings.BACKUP_DIR = tmp_path
    settings.BACKUP_ENCRYPTION_KEY = backups.generate_key()
    out = io.StringIO()
    call_command("backup_db", stdout=out)
    run = BackupRun.objects.get()
    assert run.status == BackupStatus.OK and run.encrypted and run.size_bytes > 0
    assert run.table_counts["auth_user"] >= 1
    assert (tmp_path / run.file_name).read_bytes().startswith(backups.MAGIC)

    out = io.StringIO()
    call_command("restore_drill", stdout=out)
    assert "ok=yes" in out.getvalue() and "drift=0" in out.getvalue()
    run.refresh_from_db()
    assert run.drill_status == BackupStatus.OK
    assert run.drill_report["tables"] == len(run.table_counts)
    assert set(run.drill_report["problems"]) >= {"loyalty.points", "loyalty.stored_value"}

    # Without the key, the encrypted dump cannot be restored.
    settings.BACKUP_ENCRYPTION_KEY = ""
    with pytest.raises(CommandError):
        call_command("restore_drill", stdout=io.StringIO())


def test_decrypt_command(settings, tmp_path):
    settings.BACKUP_ENCRYPTION_KEY = backups.generate_key()
    key = backups._key()
    sealed = tmp_path / "clinic-20261207T000000Z.dump.enc"
    with sealed.open("wb") as out:
        backups.encrypt_stream(io.BytesIO(b"PGDMP data"), out, key)
    call_command("backup_db", "--decrypt", str(sealed), str(tmp_path / "plain.dump"), stdout=io.StringIO())
    assert (tmp_path / "plain.dump").read_bytes() == b"PGDMP data"
