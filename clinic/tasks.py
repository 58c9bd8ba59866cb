from __future__ import annotations

from clinic.jobs import clinic_task

from .services import heartbeat_record


@clinic_task(time_limit=60, soft_time_limit=50)
def heartbeat(self) -> str:
    """Beat → worker round trip, recorded so the home page can show the jobs are alive."""
    beat = heartbeat_record(name="clinic.heartbeat")
    return beat.last_run_at.isoformat()
