"""Beat jobs. Each is a thin wrapper: the sweep services claim their rows themselves, so a
job that overlaps the previous run, or runs twice, does nothing twice."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from . import services


@clinic_task(time_limit=120, soft_time_limit=100)
def send_reminders(self) -> dict:
    counts = services.reminders_sweep()
    heartbeat_record(name="appointments.send_reminders")
    return counts


@clinic_task(time_limit=120, soft_time_limit=100)
def mark_no_shows(self) -> int:
    marked = services.no_shows_mark()
    heartbeat_record(name="appointments.mark_no_shows")
    return marked
