"""The portal's job: old log-in codes removed (they limit nothing after two days)."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from .services import login_codes_purge


@clinic_task(time_limit=600, soft_time_limit=540)
def purge_codes(self) -> int:
    """Nightly: delete log-in code rows older than the longest rate-limit window (a plain
    DELETE: running it again after a transient error deletes nothing twice)."""
    deleted = login_codes_purge()
    heartbeat_record(name="portal.purge_codes")
    return deleted
