"""Reads of campaigns: the evaluation a manager sees (docs/marketing.md, 活动效果)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Sum

from .campaign_feedback import FeedbackSummary, campaign_feedback
from .models import Campaign, SignupStatus

ATTRIBUTION_DAYS = 30


@dataclass(frozen=True)
class CampaignResults:
    signups: int
    attended: int
    attendance_rate: Decimal | None  # attended / (confirmed + attended), 0–1
    new_people: int
    new_members: int
    bookings: int
    revenue: Decimal
    cost_per_new_person: Decimal | None
    feedback: FeedbackSummary  # the event survey (filled in by followups, campaign_feedback.py)


def campaign_results(campaign: Campaign) -> CampaignResults:
    """What a campaign brought, counted over the people checked in: new people (registered
    after the campaign was created, by its end), new members (enrolled from its start to 30
    days after its end), their bookings starting and their payments (net of voids) in that
    window, the budget per new person, and the event survey's feedback score."""
    from appointments.models import Appointment, Payment, Status
    from loyalty.models import Membership
    from members.models import Member

    counts = dict(campaign.signups.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    attended = counts.get(SignupStatus.ATTENDED, 0)
    confirmed = counts.get(SignupStatus.CONFIRMED, 0)
    signups = sum(n for status, n in counts.items() if status != SignupStatus.CANCELLED)
    people = list(campaign.signups.filter(status=SignupStatus.ATTENDED).values_list("member_id", flat=True))
    start, end = campaign.starts_at, campaign.ends_at + dt.timedelta(days=ATTRIBUTION_DAYS)
    new_people = Member.objects.filter(
        pk__in=people, created_at__gte=campaign.created_at, created_at__lte=campaign.ends_at
    ).count()
    new_members = Membership.objects.filter(
        member_id__in=people, enrolled_at__gte=start, enrolled_at__lte=end
    ).count()
    bookings = (
        Appointment.objects.filter(member_id__in=people, start__gte=start, start__lte=end)
        .exclude(status=Status.CANCELLED)
        .count()
    )
    revenue = Payment.objects.filter(visit__member_id__in=people, at__gte=start, at__lte=end).aggregate(
        s=Sum("amount")
    )["s"] or Decimal("0.00")
    total = attended + confirmed
    return CampaignResults(
        signups=signups,
        attended=attended,
        attendance_rate=(Decimal(attended) / total).quantize(Decimal("0.0001")) if total else None,
        new_people=new_people,
        new_members=new_members,
        bookings=bookings,
        revenue=revenue,
        cost_per_new_person=(campaign.budget / new_people).quantize(Decimal("0.01")) if new_people else None,
        feedback=campaign_feedback(campaign),
    )


def campaigns_for_user(user):
    """The campaigns of the user's branches, with their sign-up counts (403 without the
    view permission)."""
    from django.core.exceptions import PermissionDenied
    from django.db.models import Q

    from clinic.selectors import scope_to_branches

    if not user.has_perm("marketing.view_campaign"):
        raise PermissionDenied
    taken = (SignupStatus.CONFIRMED, SignupStatus.ATTENDED)
    return (
        scope_to_branches(Campaign.objects.all(), user)
        .select_related("branch")
        .annotate(
            taken=Count("signups", filter=Q(signups__status__in=taken)),
            waiting=Count("signups", filter=Q(signups__status=SignupStatus.WAITING)),
            attended=Count("signups", filter=Q(signups__status=SignupStatus.ATTENDED)),
        )
    )


def get_campaign_for_user(user, pk: int, *, perm: str | None = None) -> Campaign:
    """404 outside the user's branches, 403 when seen but ``perm`` is missing."""
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    campaign = campaigns_for_user(user).filter(pk=pk).first()
    if campaign is None:
        raise Http404
    if perm and not user.has_perm(perm):
        raise PermissionDenied
    return campaign
