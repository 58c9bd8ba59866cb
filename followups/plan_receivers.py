"""Listeners of appointments' visit signals (sent after commit): a completed visit makes its
follow-up tasks, a voided one cancels its open ones. A failure here is logged, never raised:
the checkout already committed, and the beat sweep (``plan_tasks.generate``) makes what a
failed listener missed."""

from __future__ import annotations

import logging

from .plan_models import ServiceRep

log = logging.getLogger(__name__)


def on_visit_completed(sender, visit, **kwargs) -> None:
    from .plans import plan_tasks_for_visit

    try:
        plan_tasks_for_visit(visit=visit)
    except Exception:
        log.exception("follow-up tasks for visit %s not made", visit.pk)


def on_visit_voided(sender, visit, **kwargs) -> None:
    from .plans import plan_tasks_cancel_for_visit

    try:
        plan_tasks_cancel_for_visit(visit=visit)
    except Exception:
        log.exception("follow-up tasks of voided visit %s not cancelled", visit.pk)


def connect() -> None:
    from appointments.signals import visit_completed, visit_voided

    visit_completed.connect(on_visit_completed, dispatch_uid="followups.plans.visit_completed")
    visit_voided.connect(on_visit_voided, dispatch_uid="followups.plans.visit_voided")


def rep_before_merge(source, target) -> dict:
    # One dedicated rep per person: the target's own stands.
    if ServiceRep.objects.filter(member=target).exists():
        ServiceRep.objects.filter(member=source).delete()
    return {}
