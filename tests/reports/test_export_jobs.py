"""Export jobs: a drill-down list longer than REPORTS_EXPORT_INLINE_ROWS becomes a Celery job
whose file holds exactly the inline export's rows (same writer, same masking as the requester),
with progress up to the total; only the requester sees the job and downloads it (no-store,
audited); old files are purged by the daily job."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from clinic.models import AuditLog, Role
from reports import export_jobs, export_tasks
from reports.export_models import ExportJob
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.REPORTS_EXPORT_DIR = tmp_path / "exports"
    settings.REPORTS_EXPORT_INLINE_ROWS = 5
    return settings.REPORTS_EXPORT_DIR


@pytest.fixture
def seven_today(branch, other_branch):
    make_member(branch, name='=HYPERLINK("x")', phone="+8613900000001")
    for i in range(6):
        make_member(branch, name=f"导出{i}", phone=f"+86139000001{i:02d}")
    make_member(other_branch, name="别店", phone="+8613900000099")
    return branch


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(export_tasks.export_run, "delay", lambda *a: sent.append(a))
    return sent


def _csv(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


URL = reverse("reports:drill_export", args=["new_people", "csv"]) + "?period=today"


def test_a_big_export_becomes_a_job_whose_file_is_the_inline_csv(
    seven_today, manager, client_for, settings, queued, monkeypatch, django_capture_on_commit_callbacks
):
    client = client_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(URL)
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "reports:export_job", args=[job.pk]
    )
    assert queued == [(job.pk,)]
    assert (job.requested_by, job.branch, job.code, job.fmt, job.status) == (
        manager,
        seven_today,
        "new_people",
        "csv",
        ExportJob.Status.QUEUED,
    )
    assert job.rows_total == 7 and job.lo == timezone.localdate()
    queued_audit = AuditLog.objects.get(action="reports.export.queued")
    assert queued_audit.changes["rows"] == 7

    page = client.get(reverse("reports:export_job", args=[job.pk]))
    html = page.content.decode()
    assert 'hx-trigger="every 2s"' in html and "我的导出" in html and "排队中" in html

    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 2)
    assert export_tasks.export_run.run(job.pk) == 7
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE and job.rows_done == job.rows_total == 7
    assert job.progress_percent == 100 and job.finished_at and not job.error
    path = export_jobs.file_path(job)
    assert settings.REPORTS_EXPORT_DIR in path.parents

    # The same rows as the inline export of the same list.
    settings.REPORTS_EXPORT_INLINE_ROWS = 1000
    inline = b"".join(client.get(URL).streaming_content)
    assert _csv(path.read_bytes()) == _csv(inline)
    assert len(_csv(inline)) == 8
    assert any(r[1] == '\'=HYPERLINK("x")' for r in _csv(inline))

    page = client.get(reverse("reports:export_job", args=[job.pk]), headers={"HX-Request": "true"})
    assert "hx-trigger" not in page.content.decode() and "export-download" in page.content.decode()
    download = client.get(reverse("reports:export_download", args=[job.pk]))
    assert download.status_code == 200 and "no-store" in download["Cache-Control"]
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == path.read_bytes()
    audit = AuditLog.objects.filter(action="reports.exported", changes__job=job.pk).get()
    assert audit.changes["rows"] == 7


def test_progress_is_written_every_few_thousand_rows(seven_today, manager, queued, monkeypatch):
    day = timezone.localdate()
    job = export_jobs.export_job_create(
        actor=manager, branch=seven_today, code="new_people", period="today", lo=day,
        hi=day + dt.timedelta(days=1), fmt="xlsx", rows_total=7,
    )  # fmt: skip
    seen = []
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 3)
    original = export_jobs.drill.iter_rows

    def rows(*a, **kw):
        for r in original(*a, **kw):
            seen.append(ExportJob.objects.get(pk=job.pk).rows_done)
            yield r

    monkeypatch.setattr(export_jobs.drill, "iter_rows", rows)
    assert export_jobs.export_job_run(job.pk) == 7
    assert seen == [0, 0, 0, 3, 3, 3, 6]  # counted as the rows are written
    job.refresh_from_db()
    ws = load_workbook(export_jobs.file_path(job)).active
    assert len(list(ws.iter_rows(values_only=True))) == 8
    # Masked as the requester may see it.
    reveal = manager.has_perm("clinic.reveal_contact")
    assert all(("****" in r[2]) != reveal for r in list(ws.iter_rows(values_only=True))[1:])
    assert export_jobs.export_job_run(job.pk) == 0  # a second run does nothing


def test_only_the_requester_sees_the_job_and_its_file(
    seven_today, manager, hq_admin, staff_factory, client_for, queued
):
    day = timezone.localdate()
    job = export_jobs.export_job_create(
        actor=manager, branch=seven_today, code="new_people", period="today", lo=day,
        hi=day + dt.timedelta(days=1), fmt="csv", rows_total=7,
    )  # fmt: skip
    export_jobs.export_job_run(job.pk)
    other = staff_factory(Role.BRANCH_MANAGER, username="another_manager")
    for user in (other, hq_admin):
        client = client_for(user)
        assert client.get(reverse("reports:export_job", args=[job.pk])).status_code == 404
        assert client.get(reverse("reports:export_download", args=[job.pk])).status_code == 404
    client = client_for(manager)
    assert client.get(reverse("reports:export_job", args=[job.pk + 999])).status_code == 404
    assert client.get(reverse("reports:export_download", args=[job.pk + 999])).status_code == 404
    assert client.get(f"/reports/exports/{job.pk}x/").status_code == 404
    assert not AuditLog.objects.filter(action="reports.exported").exists()


def test_a_job_of_someone_who_lost_the_permission_fails_with_a_reason(
    seven_today, manager, client_for, queued
):
    day = timezone.localdate()
    job = export_jobs.export_job_create(
        actor=manager, branch=seven_today, code="new_people", period="today", lo=day,
        hi=day + dt.timedelta(days=1), fmt="csv", rows_total=7,
    )  # fmt: skip
    manager.is_active = False
    manager.save()
    assert export_jobs.export_job_run(job.pk) == 0
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED and job.error == ExportJob.Reason.NOT_ALLOWED
    assert not job.file_name
    manager.is_active = True
    manager.save()
    html = client_for(manager).get(reverse("reports:export_job", args=[job.pk])).content.decode()
    assert "导出失败" in html and "Traceback" not in html
    assert client_for(manager).get(reverse("reports:export_download", args=[job.pk])).status_code == 404


def test_a_write_failure_is_a_failed_job_not_a_trace(seven_today, manager, queued, monkeypatch):
    day = timezone.localdate()
    job = export_jobs.export_job_create(
        actor=manager, branch=seven_today, code="new_people", period="today", lo=day,
        hi=day + dt.timedelta(days=1), fmt="csv", rows_total=7,
    )  # fmt: skip

    def broken(*a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(export_jobs.exports, "write_table", broken)
    assert export_jobs.export_job_run(job.pk) == 0
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED and job.error == ExportJob.Reason.WRITE_FAILED


def test_old_files_are_purged_by_the_daily_job(seven_today, manager, queued):
    day = timezone.localdate()
    job = export_jobs.export_job_create(
        actor=manager, branch=seven_today, code="new_people", period="today", lo=day,
        hi=day + dt.timedelta(days=1), fmt="csv", rows_total=7,
    )  # fmt: skip
    export_jobs.export_job_run(job.pk)
    job.refresh_from_db()
    path = export_jobs.file_path(job)
    assert path.is_file()
    assert export_tasks.export_files_purge.run() == 0  # too young
    assert export_jobs.export_files_purge(now=timezone.now() + dt.timedelta(days=8)) == 1
    assert not path.exists()
    job.refresh_from_db()
    assert job.purged_at is not None


def test_a_small_list_is_still_exported_inline(seven_today, manager, client_for, settings, queued):
    settings.REPORTS_EXPORT_INLINE_ROWS = 7
    response = client_for(manager).get(URL)
    assert response.status_code == 200 and not ExportJob.objects.exists() and queued == []


def test_the_sweep_resends_lost_queued_jobs_and_fails_the_ones_no_worker_finished(
    seven_today, manager, queued, client_for
):
    day = timezone.localdate()

    def job():
        return export_jobs.export_job_create(
            actor=manager, branch=seven_today, code="new_people", period="today", lo=day,
            hi=day + dt.timedelta(days=1), fmt="csv", rows_total=7,
        )  # fmt: skip

    lost, fresh, killed = job(), job(), job()
    now = timezone.now()
    ExportJob.objects.filter(pk=lost.pk).update(created_at=now - dt.timedelta(minutes=6))
    # A worker claimed this one and was killed: it stays "running" and left a partial file.
    ExportJob.objects.filter(pk=killed.pk).update(
        status=ExportJob.Status.RUNNING, created_at=now - dt.timedelta(minutes=71)
    )
    part = export_jobs.export_dir() / str(manager.pk) / f"{killed.pk}-new.csv.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"half")
    queued.clear()
    assert export_tasks.export_jobs_sweep.run() == {"interrupted": 1, "resent": 1}
    assert queued == [(lost.pk,)]  # the fresh one may still be on its way
    killed.refresh_from_db()
    assert killed.status == ExportJob.Status.FAILED and killed.error == ExportJob.Reason.INTERRUPTED
    assert not part.exists()
    # The re-sent job runs once; a second delivery of it does nothing.
    assert export_jobs.export_job_run(lost.pk) == 7 and export_jobs.export_job_run(lost.pk) == 0
    # The requester reads why, in words, on the job page.
    page = client_for(manager).get(reverse("reports:export_job", args=[killed.pk])).content.decode()
    assert "导出被中断" in page
    fresh.refresh_from_db()
    assert fresh.status == ExportJob.Status.QUEUED


def test_a_big_export_asked_for_while_redis_is_down_is_queued_and_the_sweep_sends_it(
    seven_today, manager, client_for, monkeypatch, django_capture_on_commit_callbacks
):
    """The broker is down when the job is sent: the page still goes to the job (no 500), the
    job waits queued, and the sweep sends it once Redis is back (benchmarks/drills.py)."""
    import kombu.exceptions

    def down(*args):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(export_tasks.export_run, "delay", down)
    client = client_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(URL)
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "reports:export_job", args=[job.pk]
    )
    assert job.status == ExportJob.Status.QUEUED
    sent = []
    monkeypatch.setattr(export_tasks.export_run, "delay", lambda *a: sent.append(a))
    ExportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=6))
    assert export_tasks.export_jobs_sweep.run() == {"interrupted": 0, "resent": 1}
    assert sent == [(job.pk,)]
