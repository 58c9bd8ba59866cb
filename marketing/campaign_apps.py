"""What the campaigns part plugs in at start-up (called from ``MarketingConfig.ready``):
the merge field of sign-ups, the reminders' beat job and the navbar entry (活动)."""

from __future__ import annotations

_RANK = {"attended": 3, "confirmed": 2, "waiting": 1, "cancelled": 0}


def signup_before_move(source, target) -> dict:
    """One sign-up per person per campaign: where both records signed up for the same
    campaign, the one that got further (attended > confirmed > waiting > cancelled) is kept."""
    from . import campaign_tasks  # noqa: F401  (beat job)
    from .models import CampaignSignup

    dropped = []
    theirs = {s.campaign_id: s for s in CampaignSignup.objects.filter(member=source)}
    for ours in CampaignSignup.objects.filter(member=target, campaign_id__in=theirs):
        other = theirs[ours.campaign_id]
        loser = ours if _RANK[other.status] > _RANK[ours.status] else other
        dropped.append(loser.pk)
        loser.delete()
    return {"campaign_signups_dropped": dropped} if dropped else {}


def ready() -> None:
    from members.registry import register_merge_field

    from . import campaign_tasks  # noqa: F401  (beat job)
    from .models import CampaignSignup

    register_merge_field(CampaignSignup, "member", before_move=signup_before_move)

    from appointments.registry import register_price_rules

    from .campaign_prices import price_rules_for_visit

    register_price_rules(price_rules_for_visit)  # member-day prices at checkout

    from django.utils.translation import gettext_lazy as _

    from clinic.navigation import NavItem, register

    # In the "marketing" dropdown, before the partner screens.
    register(
        NavItem(
            "marketing:campaign_list",
            _("Campaigns"),
            "bi-calendar-event",
            ("marketing.view_campaign",),
            order=81,
            group="marketing",
        )
    )
