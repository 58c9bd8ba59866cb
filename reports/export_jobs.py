"""Export jobs (docs/reports.md, "Exports"): a drill-down list with more rows than
``REPORTS_EXPORT_INLINE_ROWS`` is not built in the request. ``export_job_create`` records who
asked for what and enqueues ``export_tasks.export_run`` on commit; ``export_job_run`` writes
the file with the inline export's own writer (exports.write_table: the same columns, the same
formula escaping, phones masked as the *requesting* user's permissions say at run time), with
the row count on the job every ``PROGRESS_EVERY`` rows. Files live outside the web root
(settings REPORTS_EXPORT_DIR) and ``export_files_purge`` deletes them after
REPORTS_EXPORT_KEEP_DAYS."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from clinic.jobs import enqueue_on_commit
from clinic.services import audit_record

from . import drill, exports
from .export_models import ExportJob

log = logging.getLogger(__name__)
PROGRESS_EVERY = 2000


def inline_limit() -> int:
    return int(getattr(settings, "REPORTS_EXPORT_INLINE_ROWS", 20_000))


def export_dir() -> Path:
    configured = getattr(settings, "REPORTS_EXPORT_DIR", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "exports"


def file_path(job: ExportJob) -> Path:
    return export_dir() / job.file_name


def may_run(user) -> bool:
    from .dashboard import VIEW_PERM

    return bool(user.is_active and user.has_perm(exports.EXPORT_PERM) and user.has_perm(VIEW_PERM))


def drill_count(*, code: str, branch, lo: dt.date, hi: dt.date) -> int:
    qs, _shape = drill.SOURCES[code](branch, lo, hi)
    return qs.count()


def export_job_create(
    *, actor, branch, code: str, period: str, lo: dt.date, hi: dt.date, fmt: str, rows_total: int
) -> ExportJob:
    """Queue the export of a long list; audited, and the task is sent when this commits."""
    from .export_tasks import export_run

    with transaction.atomic():
        job = ExportJob.objects.create(
            requested_by=actor,
            branch=branch,
            code=code,
            period=period,
            lo=lo,
            hi=hi,
            fmt=fmt,
            rows_total=rows_total,
        )
        audit_record(
            actor=actor,
            action="reports.export.queued",
            target=job,
            branch=branch,
            changes={"report": f"drill:{code}", "format": fmt, "rows": rows_total, "period": period},
        )
        # Redis down: the job stays queued and export_jobs_sweep sends it again.
        enqueue_on_commit(export_run, job.pk)
    return job


def _fail(job: ExportJob, reason: str) -> None:
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.FAILED, error=reason, finished_at=timezone.now()
    )


def export_job_run(job_id: int) -> int:
    """The task's body: write the file, count the rows; returns the rows written. A job that
    is not queued (run twice, purged) is left as it is."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING
    )
    if not claimed:
        return 0
    job = ExportJob.objects.select_related("requested_by", "branch").get(pk=job_id)
    user = job.requested_by
    if not may_run(user):
        _fail(job, ExportJob.Reason.NOT_ALLOWED)
        return 0
    if job.code not in drill.SOURCES or job.fmt not in exports.FORMATS:
        _fail(job, ExportJob.Reason.UNKNOWN_LIST)
        return 0
    title, header, rows, stem = exports.drill_table(
        code=job.code, branch=job.branch, lo=job.lo, hi=job.hi, reveal=user.has_perm("clinic.reveal_contact")
    )
    done = 0

    def counted():
        nonlocal done
        for row in rows:
            yield row
            done += 1
            if done % PROGRESS_EVERY == 0:
                ExportJob.objects.filter(pk=job.pk).update(
                    rows_done=done, rows_total=max(job.rows_total, done)
                )

    name = f"{job.requested_by_id}/{job.pk}-{exports._filename(stem, job.fmt)}"
    target = export_dir() / name
    partial = target.with_suffix(target.suffix + ".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as out:
            exports.write_table(out, title=title, header=header, rows=counted(), fmt=job.fmt)
        os.replace(partial, target)
    except Exception:  # the job says it failed; the log has the trace
        log.exception("export job %s: the file could not be written", job.pk)
        partial.unlink(missing_ok=True)
        _fail(job, ExportJob.Reason.WRITE_FAILED)
        return 0
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        rows_done=done,
        rows_total=done,
        file_name=name,
        finished_at=timezone.now(),
    )
    return done


def export_download(*, actor, job: ExportJob) -> Path:
    """The finished file of the actor's own job, audited as the export it is."""
    path = file_path(job) if job.file_name else None
    if job.status != ExportJob.Status.DONE or job.purged_at or path is None or not path.is_file():
        raise Http404
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="reports.exported",
            target=job,
            branch=job.branch,
            changes={
                "report": f"drill:{job.code}",
                "format": job.fmt,
                "rows": job.rows_done,
                "period": job.period,
                "job": job.pk,
                "phones": "full" if actor.has_perm("clinic.reveal_contact") else "masked",
            },
        )
    return path


def export_files_purge(*, now: dt.datetime | None = None) -> int:
    """The daily job: delete the files of jobs older than REPORTS_EXPORT_KEEP_DAYS (the job
    row stays, as the record that the export happened). Returns the files deleted."""
    now = now or timezone.now()
    keep = int(getattr(settings, "REPORTS_EXPORT_KEEP_DAYS", 7))
    old = ExportJob.objects.filter(created_at__lt=now - dt.timedelta(days=keep), purged_at=None)
    deleted = 0
    for job in old.iterator():
        if job.file_name:
            try:
                file_path(job).unlink(missing_ok=True)
            except OSError:
                log.exception("export job %s: the file could not be deleted", job.pk)
                continue
            deleted += 1
        ExportJob.objects.filter(pk=job.pk).update(purged_at=now)
    return deleted


def export_jobs_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Every few minutes: the jobs a worker lost. A job still queued after
    REPORTS_EXPORT_REQUEUE_MINUTES (the broker was down when it was sent, or the message was
    lost) is sent again: a second run of a job does nothing, the claim is on its status. A job
    queued or running for longer than REPORTS_EXPORT_STALE_MINUTES (the task's hard time limit
    and a margin: its worker was killed) fails as interrupted, and its partial file goes."""
    from .export_tasks import export_run

    now = now or timezone.now()
    stale = now - dt.timedelta(minutes=int(getattr(settings, "REPORTS_EXPORT_STALE_MINUTES", 70)))
    requeue = now - dt.timedelta(minutes=int(getattr(settings, "REPORTS_EXPORT_REQUEUE_MINUTES", 5)))
    open_jobs = ExportJob.objects.filter(status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING])
    interrupted = 0
    for job in open_jobs.filter(created_at__lt=stale).iterator():
        changed = open_jobs.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=ExportJob.Reason.INTERRUPTED, finished_at=now
        )
        if changed:
            interrupted += 1
            for part in (export_dir() / str(job.requested_by_id)).glob(f"{job.pk}-*.part"):
                part.unlink(missing_ok=True)
            log.warning("export job %s: interrupted (no worker finished it)", job.pk)
    resent = 0
    for pk in open_jobs.filter(
        status=ExportJob.Status.QUEUED, created_at__lt=requeue, created_at__gte=stale
    ).values_list("pk", flat=True):
        export_run.delay(pk)
        resent += 1
    return {"interrupted": interrupted, "resent": resent}


# --- selectors ------------------------------------------------------------------------------


def get_export_job_for_user(user, pk: int) -> ExportJob:
    """The requester's own job; anyone else's is 404 (a file of someone else's masking)."""
    job = ExportJob.objects.select_related("branch").filter(pk=pk, requested_by_id=user.pk).first()
    if job is None:
        raise Http404
    return job


def recent_jobs(user, limit: int = 10):
    return list(ExportJob.objects.filter(requested_by_id=user.pk).select_related("branch")[:limit])
