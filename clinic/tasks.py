from __future__ import annotations

from clinic.jobs import clinic_task

from .services import heartbeat_record


@clinic_task(time_limit=60, soft_time_limit=50)
def heartbeat(self) -> str:
    """Beat → worker round trip, recorded so the home page can show the jobs are alive."""
    beat = heartbeat_record(name="clinic.heartbeat")
    return beat.last_run_at.isoformat()


@clinic_task(time_limit=4 * 3600, soft_time_limit=4 * 3600 - 300, max_retries=1)
def backup(self) -> str:
    """Nightly: pg_dump into BACKUP_DIR, then rotation (clinic.backups)."""
    from .backups import backup_create

    run = backup_create()
    heartbeat_record(name="clinic.backup")
    return run.file_name
