"""The home page's cards, read for the person chosen in the switcher (and the recalls of the
whole family the phone reaches). Read-only: every figure comes from the lower apps' selectors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone


@dataclass
class Home:
    member: object
    membership: object = None
    progress: object = None
    keep_text: str = ""
    balance: int = 0
    expiring: int = 0
    expiring_on: object = None
    allowances: list = field(default_factory=list)
    next_appointment: object = None
    recalls: list = field(default_factory=list)


def home_for(portal) -> Home:
    from appointments.models import ACTIVE_STATUSES, Appointment
    from followups.recall_models import Recall
    from loyalty.models import PointsAccount
    from loyalty.selectors import membership_for, open_lots, soon_expiring, tier_progress
    from loyalty.services.allowances import allowance_status
    from loyalty.services.tiers import keep_requirement, keep_tier_text

    member = portal.member
    home = Home(member=member)
    home.membership = membership_for(member)
    if home.membership is not None:
        home.progress = tier_progress(home.membership)
        tier = home.membership.tier
        if tier.has_thresholds:
            amount, visits = keep_requirement(home.membership)
            home.keep_text = keep_tier_text(tier, amount, visits, tier.qualify_logic)
        home.allowances = allowance_status(home.membership)
    account = PointsAccount.objects.filter(member=member, is_open=True).first()
    if account is not None:
        home.balance = account.balance
        home.expiring = soon_expiring(account)
        if home.expiring:
            home.expiring_on = open_lots(account).values_list("expires_on", flat=True).first()
    home.next_appointment = (
        Appointment.objects.filter(
            member=member,
            start__gte=timezone.now(),
            status__in=[s for s in ACTIVE_STATUSES if s not in ("completed",)],
        )
        .select_related("service", "branch", "doctor__staff")
        .order_by("start")
        .first()
    )
    soon = timezone.localdate() + dt.timedelta(days=30)
    home.recalls = list(
        Recall.objects.filter(member_id__in=portal.member_ids, is_active=True, due_on__lte=soon)
        .select_related("recall_type", "member", "branch")
        .order_by("due_on", "id")
    )
    return home
