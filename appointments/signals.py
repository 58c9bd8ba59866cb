"""Signals this app sends, always after commit. Higher apps (followups) listen.

``visit_completed(sender=Visit, visit=<Visit>)`` — a visit was checked out.
``visit_voided(sender=Visit, visit=<Visit>)`` — a checked-out visit was voided.
``visit_refunded(sender=Visit, visit=<Visit>, amount=<Decimal>, refund_key=<str>, reason=<str>)``
— part of a checked-out visit's money was given back (``visit_refund``); partner rebates
reverse in proportion.
``appointment_arrived(sender=Appointment, appointment=<Appointment>)`` — a person checked in
(a booking or a walk-in); marketing tells the consultant.
"""

from __future__ import annotations

from django.dispatch import Signal

visit_completed = Signal()
visit_voided = Signal()
visit_refunded = Signal()
appointment_arrived = Signal()
