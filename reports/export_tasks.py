"""The export jobs in Celery (export_jobs): thin wrappers around the services."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from . import export_jobs


@clinic_task(time_limit=3600, soft_time_limit=3500)
def export_run(self, job_id: int) -> int:
    return export_jobs.export_job_run(job_id)


@clinic_task(time_limit=600, soft_time_limit=550)
def export_files_purge(self) -> int:
    """Daily: delete the files of export jobs older than REPORTS_EXPORT_KEEP_DAYS."""
    deleted = export_jobs.export_files_purge()
    heartbeat_record(name="reports.export_files_purge")
    return deleted


@clinic_task(time_limit=300, soft_time_limit=280)
def export_jobs_sweep(self) -> dict[str, int]:
    """Every 10 minutes: send lost queued jobs again; fail the ones no worker finished."""
    return export_jobs.export_jobs_sweep()
