"""Campaigns and events (活动, issue 16): the event, who signed up (with the waiting list),
who came, and what they were given. Writes go through ``marketing.campaigns``.

The "target segment" of a campaign is kept as an optional members Tag (``target_tag``) for
now; a Segment model (marketing/segment_*) may be linked by a nullable foreign key later."""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch
from members.models import Member, Tag

__all__ = [
    "Campaign",
    "CampaignDraw",
    "CampaignKind",
    "CampaignPrice",
    "CampaignSignup",
    "SignupChannel",
    "SignupStatus",
]


class CampaignKind(models.TextChoices):
    MEMBER_DAY = "member_day", _("Member day")
    TALK = "talk", _("Health talk")
    FREE_CLINIC = "free_clinic", _("Free clinic")
    HOLIDAY = "holiday", _("Holiday offer")
    LOTTERY = "lottery", _("Lucky draw")
    FAMILY = "family", _("Parent-child dental event")


@pghistory.track()
class Campaign(models.Model):
    """An event of one branch. ``capacity`` 0 means no limit; past it, sign-ups wait in
    line. ``reward_points`` / ``reward_coupon`` are given once to each person checked in."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=CampaignKind.choices)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("branch")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("places"), default=0, help_text=_("0 means no limit."))
    channels = models.CharField(_("channels"), max_length=200, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=12, decimal_places=2, default=0)
    reward_points = models.PositiveIntegerField(_("points for attending"), default=0)
    reward_coupon = models.ForeignKey(
        "loyalty.CouponTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("coupon for attending"),
    )
    target_tag = models.ForeignKey(
        Tag,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("target tag"),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-starts_at", "id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        permissions = [("checkin_campaign", _("Check people in at campaigns"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="marketing_campaign_dates"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SignupStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    WAITING = "waiting", _("On the waiting list")
    CANCELLED = "cancelled", _("Cancelled")
    ATTENDED = "attended", _("Attended")


class SignupChannel(models.TextChoices):
    STAFF = "staff", _("By staff")
    H5 = "h5", _("Member portal (H5)")


class CampaignSignup(models.Model):
    """One person's place at a campaign. The waiting list is ordered by ``signed_up_at``
    then id; a cancellation promotes the first waiting person."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="signups", verbose_name=_("campaign")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="campaign_signups", verbose_name=_("person")
    )
    status = models.CharField(_("status"), max_length=10, choices=SignupStatus.choices)
    signed_up_at = models.DateTimeField(_("signed up at"), default=timezone.now)
    signed_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signed up by"),
    )
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    # Where the sign-up came from: staff (front desk, marketing, the door) or the member
    # themself in the portal.
    channel = models.CharField(
        _("signed up through"), max_length=8, choices=SignupChannel.choices, default=SignupChannel.STAFF
    )
    rewarded_at = models.DateTimeField(_("rewarded at"), null=True, blank=True)

    class Meta:
        ordering = ["campaign", "signed_up_at", "id"]
        verbose_name = _("campaign sign-up")
        verbose_name_plural = _("campaign sign-ups")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member"], name="marketing_signup_unique"),
        ]
        indexes = [models.Index(fields=["campaign", "status", "signed_up_at"], name="marketing_signup_line")]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.member}"


class CampaignDraw(models.Model):
    """A lucky draw among the people checked in. The seed and the candidate list are kept
    so anyone can re-run it (``marketing.campaigns.draw_winners``) and get the same winners."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="draws", verbose_name=_("campaign")
    )
    prize = models.CharField(_("prize"), max_length=100)
    seed = models.CharField(_("seed"), max_length=64, editable=False)
    candidates = models.JSONField(_("candidates"), default=list, editable=False)
    winners = models.JSONField(_("winners"), default=list, editable=False)
    drawn_at = models.DateTimeField(_("drawn at"), default=timezone.now, editable=False)
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("drawn by"),
    )

    class Meta:
        ordering = ["campaign", "drawn_at", "id"]
        verbose_name = _("lucky draw")
        verbose_name_plural = _("lucky draws")

    def __str__(self) -> str:
        return f"{self.campaign} · {self.prize}"


class CampaignPrice(models.Model):
    """A member-day price (会员日特价): during the campaign's dates, at its branch, a
    catalogue item costs ``price`` (or ``percent_off`` less). Applied at checkout by the
    pricing of ``appointments`` (a registered rule source, shown on the receipt under the
    campaign's name); ``with_tier`` False means the tier discount does not add to it on that
    item, as clinics usually print it (特价项目不再享受会员折扣)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="prices", verbose_name=_("campaign")
    )
    item = models.ForeignKey(
        "clinic.ServiceItem", on_delete=models.PROTECT, related_name="+", verbose_name=_("service")
    )
    price = models.DecimalField(_("special price"), max_digits=12, decimal_places=2, null=True, blank=True)
    percent_off = models.DecimalField(_("percent off"), max_digits=5, decimal_places=2, null=True, blank=True)
    with_tier = models.BooleanField(_("tier discount as well"), default=False)
    members_only = models.BooleanField(_("members only"), default=True)

    class Meta:
        ordering = ["campaign", "id"]
        verbose_name = _("member-day price")
        verbose_name_plural = _("member-day prices")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "item"], name="marketing_campaignprice_one_per_item"),
            models.CheckConstraint(
                condition=(
                    models.Q(price__isnull=False)
                    & models.Q(percent_off__isnull=True)
                    & models.Q(price__gte=0)
                )
                | (
                    models.Q(price__isnull=True)
                    & models.Q(percent_off__gt=0)
                    & models.Q(percent_off__lte=100)
                ),
                name="marketing_campaignprice_one_rule",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.item}"
