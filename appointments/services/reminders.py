"""Reminders of a booking: the rows created when it is booked or moved, and the sweep that queues
the due ones into the outbox exactly once."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.errors import DomainError

from .. import conf
from ..integration import notify_member
from ..models import Appointment, AppointmentEvent, Reminder, ReminderStatus, Status
from .common import _message_params


def _schedule_reminders(appt: Appointment, *, now: dt.datetime) -> list[Reminder]:
    """Create the booking's reminders: one per configured offset whose due time is still
    ahead. A booking made inside every window gets a single reminder due at once, unless it
    starts within the minimum lead (the person has only just booked)."""
    offsets = sorted({int(m) for m in conf.get("APPOINTMENTS_REMINDER_OFFSETS")}, reverse=True)
    rows = []
    for minutes in offsets:
        due = appt.start - dt.timedelta(minutes=minutes)
        if due > now:
            rows.append((minutes, due))
    lead = appt.start - now
    if (
        not rows
        and offsets
        and lead > dt.timedelta(minutes=conf.get("APPOINTMENTS_REMINDER_MIN_LEAD_MINUTES"))
    ):
        rows.append((min(offsets), now))
    stamp = int(appt.start.timestamp())
    reminders = [
        Reminder(
            appointment=appt,
            offset_minutes=minutes,
            due_at=due,
            for_start=appt.start,
            dedupe_key=f"appt:{appt.pk}:remind:{minutes}:{stamp}",
        )
        for minutes, due in rows
    ]
    return Reminder.objects.bulk_create(reminders, ignore_conflicts=True)


def reminders_sweep(*, now: dt.datetime | None = None, batch: int | None = None) -> dict[str, int]:
    """The beat job: queue every due reminder into the outbox, once.

    Rows are claimed with ``select_for_update(skip_locked=True)`` so two sweeps never take the
    same reminder; the outbox dedupe key is the reminder's own key, so even a crash between
    the enqueue and the status change cannot send twice. A reminder whose booking was
    cancelled, moved or checked in meanwhile is skipped.
    """
    now = now or timezone.now()
    batch = batch or conf.get("APPOINTMENTS_SWEEP_BATCH")
    counts = {"queued": 0, "skipped": 0}
    with transaction.atomic():
        due = list(
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=ReminderStatus.PENDING, due_at__lte=now)
            .select_related(
                "appointment__member",
                "appointment__branch",
                "appointment__doctor__staff",
                "appointment__service",
            )
            .order_by("due_at")[:batch]
        )
        for r in due:
            appt = r.appointment
            r.processed_at = now
            if (
                appt.status not in (Status.BOOKED, Status.CONFIRMED)
                or appt.start != r.for_start
                or appt.start <= now
            ):
                r.status, r.note = ReminderStatus.SKIPPED, _("The appointment changed.")
                counts["skipped"] += 1
            else:
                try:
                    with transaction.atomic():
                        row, why = notify_member(
                            member=appt.member,
                            template_key="appointments.reminder",
                            params=_message_params(appt),
                            dedupe_key=r.dedupe_key,
                            branch=appt.branch,
                        )
                except DomainError as exc:  # e.g. no template: one bad row must not stop the sweep
                    row, why = None, str(exc.message)
                if row is None:
                    r.status, r.note = ReminderStatus.SKIPPED, why[:200]
                    counts["skipped"] += 1
                else:
                    r.status, r.outbox_id = ReminderStatus.QUEUED, row.pk
                    counts["queued"] += 1
                    AppointmentEvent.objects.create(
                        appointment=appt,
                        member_id=appt.member_id,
                        at=now,
                        action="reminded",
                        detail=_("Reminder %(hours)s h before") % {"hours": round(r.offset_minutes / 60, 1)},
                        actor_name="system",
                    )
            r.save(update_fields=["status", "processed_at", "outbox_id", "note"])
    return counts
