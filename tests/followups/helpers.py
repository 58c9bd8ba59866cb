from __future__ import annotations

from decimal import Decimal

from appointments import checkout, services
from followups.plan_models import FollowupPlan, FollowupStep
from tests.appointments.factories import at, book


def make_plan(
    name, *, category=None, item=None, steps=(), care="", rule="rep_or_pool", times=1, channel="phone"
):
    plan = FollowupPlan.objects.create(name=name, category=category, item=item, care_instructions=care)
    for order, (title, offset, unit) in enumerate(steps, start=1):
        FollowupStep.objects.create(
            plan=plan,
            order=order,
            title=title,
            offset=offset,
            offset_unit=unit,
            repeat_times=times,
            channel=channel,
            script=f"{title}的话术",
            assignee_rule=rule,
        )
    return plan


def complete_visit(actor, branch, member, items, doctor, *, day=0, hour=10, capture=None):
    """Book, check in, treat, charge ``items`` and check out; the on-commit signal runs
    when ``capture`` (django_capture_on_commit_callbacks) is given."""
    appt = book(actor, branch, member, items[0], doctor, at(day, hour))
    services.appointment_check_in(actor=actor, appointment=appt)
    appt = services.appointment_start_treatment(actor=actor, appointment=appt)
    for item in items:
        checkout.charge_line_add(
            actor=actor, visit=appt.visit, item=item, teeth=[36] if item.per_tooth else []
        )
    _lines, result = checkout.quote(visit=appt.visit)
    payments = [("wechat_pay", result.amount_due)] if result.amount_due > Decimal(0) else []
    if capture is None:
        return checkout.visit_checkout(
            actor=actor, visit=appt.visit, payments=payments, checkout_key=f"k{appt.pk}"
        )
    with capture(execute=True):
        return checkout.visit_checkout(
            actor=actor, visit=appt.visit, payments=payments, checkout_key=f"k{appt.pk}"
        )
