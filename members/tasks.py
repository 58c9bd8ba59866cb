"""Celery tasks: take ids, call the importer. Enqueued after the upload committed."""

from __future__ import annotations

from clinic.jobs import clinic_task

from . import importer


@clinic_task(time_limit=30 * 60, soft_time_limit=29 * 60)
def import_validate_task(self, job_id: int) -> int:
    return importer.import_validate(job_id=job_id).valid_rows


@clinic_task(time_limit=60 * 60, soft_time_limit=59 * 60)
def import_commit_task(self, job_id: int, actor_id: int | None) -> int:
    return importer.import_commit(job_id=job_id, actor_id=actor_id).imported_rows
