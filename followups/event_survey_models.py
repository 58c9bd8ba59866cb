"""The event survey (活动评价): a questionnaire after a campaign for the people who came.

Changed only by ``followups.event_surveys``. One invitation per attended sign-up (one-to-one
with ``marketing.CampaignSignup``), one answer per invitation, so a re-run job invites no one
twice and a second submit keeps nothing. Kept apart from ``SurveyResponse``: the clinic's
satisfaction KPI (reports) reads that one, and an event's answers must not enter it."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch
from members.models import Member

from .recall_models import SurveyStatus

__all__ = ["EventSurveyInvitation", "EventSurveyResponse"]


class EventSurveyInvitation(models.Model):
    """The event survey of one person who attended a campaign: sent ``send_at`` (the
    campaign's end + the policy's survey delay), answered once through a signed link carrying
    ``nonce`` (or in the member portal)."""

    signup = models.OneToOneField(
        "marketing.CampaignSignup", on_delete=models.CASCADE, related_name="+", verbose_name=_("sign-up")
    )
    campaign = models.ForeignKey(
        "marketing.Campaign", on_delete=models.CASCADE, related_name="+", verbose_name=_("campaign")
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    nonce = models.CharField(_("link nonce"), max_length=32)
    send_at = models.DateTimeField(_("send at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=SurveyStatus.choices, default=SurveyStatus.PENDING
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-send_at", "-id"]
        verbose_name = _("event survey invitation")
        verbose_name_plural = _("event survey invitations")
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["send_at"], condition=Q(status="pending"), name="followups_evsurvey_due"),
            models.Index(fields=["member", "created_at"], name="followups_evsurvey_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.send_at:%Y-%m-%d}"


def _score(label):
    return models.PositiveSmallIntegerField(label, validators=[MinValueValidator(1), MaxValueValidator(5)])


class EventSurveyResponse(models.Model):
    """One answer per invitation: three star ratings, the recommendation (0–10), a comment."""

    invitation = models.OneToOneField(
        EventSurveyInvitation, on_delete=models.CASCADE, related_name="response", verbose_name=_("invitation")
    )
    campaign = models.ForeignKey(
        "marketing.Campaign", on_delete=models.CASCADE, related_name="+", verbose_name=_("campaign")
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    overall_score = _score(_("overall score"))
    content_score = _score(_("content score"))
    organisation_score = _score(_("organisation score"))
    nps = models.PositiveSmallIntegerField(
        _("would recommend (0–10)"), validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    comment = models.TextField(_("comment"), blank=True)
    is_bad = models.BooleanField(_("bad answer"), default=False)
    points = models.IntegerField(_("points rewarded"), default=0)
    created_at = models.DateTimeField(_("answered at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("event survey answer")
        verbose_name_plural = _("event survey answers")
        default_permissions = ("view",)
        indexes = [models.Index(fields=["campaign"], name="followups_evanswer_campaign")]
        constraints = [
            models.CheckConstraint(
                condition=Q(overall_score__gte=1, overall_score__lte=5)
                & Q(content_score__gte=1, content_score__lte=5)
                & Q(organisation_score__gte=1, organisation_score__lte=5)
                & Q(nps__gte=0, nps__lte=10),
                name="followups_evsurvey_scores_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.campaign_id}"

    @property
    def satisfied(self) -> bool:
        """Every star score 4 or 5 (the same rule as the visit survey's rate)."""
        return min(self.overall_score, self.content_score, self.organisation_score) >= 4
