"""Listeners to appointments' signals (sent after commit): arrivals move a consultation on and
tell its consultant; checkouts record the visit's last touch; voids take it back. A failure
here is logged and never undoes the front desk's work, which has already committed."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from appointments.signals import appointment_arrived, visit_completed, visit_voided

log = logging.getLogger(__name__)


@receiver(appointment_arrived, dispatch_uid="marketing.arrival")
def on_arrival(sender, appointment, **kwargs) -> None:
    from .consultations import consultation_arrival_record

    try:
        consultation_arrival_record(appointment=appointment)
    except Exception:
        log.exception("marketing: arrival of appointment %s not recorded", appointment.pk)


@receiver(visit_completed, dispatch_uid="marketing.last_touch")
def on_visit_completed(sender, visit, **kwargs) -> None:
    from .attribution import visit_touch_record

    try:
        visit_touch_record(visit=visit)
    except Exception:
        log.exception("marketing: last touch of visit %s not recorded", visit.pk)


@receiver(visit_voided, dispatch_uid="marketing.last_touch_void")
def on_visit_voided(sender, visit, **kwargs) -> None:
    from .attribution import visit_touch_void

    try:
        visit_touch_void(visit=visit)
    except Exception:
        log.exception("marketing: void of visit %s not recorded", visit.pk)
