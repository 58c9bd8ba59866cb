"""Signals this app sends, always after commit. Higher apps (followups) listen; clinical
never imports them (DESIGN.md §2).

``plan_accepted(sender=TreatmentPlan, plan=<TreatmentPlan>)`` — the patient accepted a plan
(followups may plan the recall of its items from it).
``plan_completed(sender=TreatmentPlan, plan=<TreatmentPlan>)`` — every chosen item was carried
out on checked-out visits.

The follow-up and recall rules of the treatment itself need no signal of their own: plan
items become ordinary charge lines, and followups already plans its per-service follow-ups and
recalls from ``appointments.signals.visit_completed`` when such a visit is checked out.
"""

from __future__ import annotations

from django.dispatch import Signal

plan_accepted = Signal()
plan_completed = Signal()
