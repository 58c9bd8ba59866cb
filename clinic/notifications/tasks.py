from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from .sending import outbox_send_due


@clinic_task(soft_time_limit=240, time_limit=300)
def send_due(self) -> dict[str, int]:
    """Every minute: send what is due. Overlapping runs are safe (rows are claimed)."""
    heartbeat_record(name="notifications.send_due")
    return dict(outbox_send_due())
