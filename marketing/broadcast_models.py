"""Broadcasts (群发, issue 16): one message to a segment on one channel. The audience is
frozen into ``BroadcastRecipient`` rows (every person of the segment, each with the step of
the waterfall that kept them out, or ``included``, and the consent they held at that moment);
sending queues the included ones into the outbox in one statement. Writes go through
``marketing.broadcast_services``."""

from __future__ import annotations

from decimal import Decimal

import pghistory
from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch
from clinic.notifications.models import Channel
from members.models import Member

from .segment_models import Quadrant, Segment

__all__ = ["Broadcast", "BroadcastRecipient", "BroadcastSettings", "BroadcastStatus", "RecipientOutcome"]


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AWAITING_APPROVAL = "awaiting", _("Awaiting approval")
    READY = "ready", _("Ready to send")
    QUEUED = "queued", _("Sending")
    CANCELLED = "cancelled", _("Cancelled")


class RecipientOutcome(models.TextChoices):
    """The waterfall's steps, in order: the first that applies keeps a person out."""

    NO_CONSENT = "no_consent", _("No consent on this channel")
    OPTED_OUT = "opted_out", _("Opted out")
    NO_ADDRESS = "no_address", _("No address on this channel")
    OVER_CAP = "over_cap", _("Over the contact cap")
    INCLUDED = "included", _("Will receive it")


@pghistory.track()
class Broadcast(models.Model):
    name = models.CharField(_("name"), max_length=100)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="broadcasts", verbose_name=_("branch")
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, related_name="broadcasts", verbose_name=_("segment")
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True, help_text=_("E-mail only."))
    body = models.TextField(_("text"))
    status = models.CharField(
        _("status"), max_length=12, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    not_before = models.DateTimeField(_("send from"), null=True, blank=True)
    waterfall = models.JSONField(_("audience waterfall"), default=dict, blank=True)
    audience_count = models.PositiveIntegerField(_("audience"), default=0)
    audience_at = models.DateTimeField(_("audience fixed at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    queued_count = models.PositiveIntegerField(_("queued"), default=0)
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
        ordering = ["-created_at", "-id"]
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        permissions = [("approve_broadcast", _("Approve large broadcasts"))]

    def __str__(self) -> str:
        return self.name

    @property
    def template_key(self) -> str:
        return f"broadcast.{self.pk}"


class BroadcastRecipient(models.Model):
    """One person of the segment when the audience was fixed: where the waterfall left them,
    the address it would use, and the consent they held then (``consent`` and its grant time;
    null when none)."""

    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, related_name="recipients", verbose_name=_("broadcast")
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    quadrant = models.CharField(_("quadrant"), max_length=2, choices=Quadrant.choices)
    outcome = models.CharField(_("outcome"), max_length=12, choices=RecipientOutcome.choices)
    recipient = models.CharField(_("recipient"), max_length=255, blank=True)
    consent = models.ForeignKey(
        "members.Consent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("consent"),
    )
    consent_granted_at = models.DateTimeField(_("consent granted at"), null=True, blank=True)
    marketing_opt_out = models.BooleanField(_("refused all marketing"), default=False)
    contacts_in_window = models.PositiveSmallIntegerField(_("marketing messages in the window"), default=0)

    class Meta:
        ordering = ["broadcast", "member"]
        verbose_name = _("broadcast recipient")
        verbose_name_plural = _("broadcast recipients")
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "member"], name="broadcast_recipient_once"),
        ]
        indexes = [
            models.Index(
                fields=["broadcast", "member"], condition=Q(outcome="included"), name="broadcast_included"
            )
        ]

    def __str__(self) -> str:
        return f"{self.broadcast} · {self.member}"


class BroadcastSettings(models.Model):
    """HQ's broadcast settings (one row, pk=1): above ``approval_threshold`` people a
    broadcast needs a manager's approval; ``sms_price`` is the cost of one 70-character SMS
    segment for the estimate."""

    approval_threshold = models.PositiveIntegerField(
        _("approval needed above (people)"), default=500, validators=[MinValueValidator(1)]
    )
    sms_price = models.DecimalField(
        _("price of one SMS segment (¥)"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("0.0450"),
        validators=[MinValueValidator(0)],
    )

    class Meta:
        verbose_name = _("broadcast settings")
        verbose_name_plural = _("broadcast settings")
        default_permissions = ("view", "change", "add")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="broadcast_settings_single_row")]

    def __str__(self) -> str:
        return str(_("Broadcast settings"))
