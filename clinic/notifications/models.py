"""Message templates, the outbox (one row per message) and recipient opt-outs.

Writes go through ``clinic.notifications.services``; the models carry no business logic.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clinic.models import Branch

key_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]{1,63}$",
    _("Use 2–64 lower-case letters, digits, dots, dashes or underscores."),
)


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("E-mail")


class Purpose(models.TextChoices):
    SERVICE = "service", pgettext_lazy("message purpose", "Service")
    MARKETING = "marketing", pgettext_lazy("message purpose", "Marketing")


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class MessageTemplate(models.Model):
    """The text of one message kind in one channel and language.

    ``body`` names its variables in braces: ``{name}``, ``{start}``. SMS providers only send
    pre-approved templates, so each carries the provider's template id and sign name; the
    provider fills the same variables on its side, and ``body`` is our copy of that text
    (for the console/file backends, previews and the outbox detail page).
    """

    key = models.CharField(_("key"), max_length=64, validators=[key_validator])
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=16, choices=settings.LANGUAGES)
    name = models.CharField(_("name"), max_length=100, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True, help_text=_("E-mail only."))
    body = models.TextField(_("body"), help_text=_("Variables in braces, e.g. {name}, {start}."))
    aliyun_template_code = models.CharField(_("Aliyun template code"), max_length=64, blank=True)
    aliyun_sign_name = models.CharField(_("Aliyun sign name"), max_length=64, blank=True)
    tencent_template_id = models.CharField(_("Tencent template id"), max_length=64, blank=True)
    tencent_sign_name = models.CharField(_("Tencent sign name"), max_length=64, blank=True)
    tencent_param_order = models.CharField(
        _("Tencent parameter order"),
        max_length=255,
        blank=True,
        help_text=_(
            "Tencent templates number their parameters {1}, {2}…: list our variable names in that order, separated by commas."
        ),
    )
    wechat_template_id = models.CharField(_("WeChat template id"), max_length=128, blank=True)
    wechat_fields = models.JSONField(
        _("WeChat fields"),
        default=dict,
        blank=True,
        help_text=_('WeChat data key → our variable, e.g. {"thing1": "service", "time2": "start"}.'),
    )
    wechat_page = models.CharField(_("WeChat page or link"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["key", "channel", "language"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "channel", "language"], name="message_template_one_per_language"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_label} · {self.get_channel_display()} · {self.get_language_display()}"

    @property
    def template_label(self) -> str:
        """What staff read for the key: its label in code (clinic.labels), else this row's
        name, else the key."""
        from clinic.labels import message_templates

        return message_templates.get(self.key) or self.name or self.key


class Outbox(models.Model):
    """One row per message. ``dedupe_key`` is unique, so the same message is never queued
    twice; ``status`` moves pending → sending → sent / failed / skipped, and only the worker
    that moved a row to ``sending`` (``claim_token``) may finish it."""

    dedupe_key = models.CharField(_("dedupe key"), max_length=200, unique=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=255)
    template_key = models.CharField(_("template"), max_length=64)
    language = models.CharField(_("language"), max_length=16, choices=settings.LANGUAGES)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    consent_ref = models.CharField(_("consent reference"), max_length=100, blank=True)
    # Who the message is for, across channels ("member:12"): the contact cap counts by it.
    person_key = models.CharField(_("person"), max_length=64, blank=True, db_default="")
    branch = models.ForeignKey(
        Branch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("branch"),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claim_token = models.CharField(_("claim token"), max_length=64, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=128, blank=True)
    body = models.TextField(_("text sent"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # The provider's delivery report (回执), where it sends one: when the handset got the
    # message, or why it did not. ``status`` stays ``sent`` (we handed it over).
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    delivery_error = models.CharField(_("delivery failure"), max_length=255, blank=True, db_default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        default_permissions = ("view",)
        permissions = [("resend_outbox", _("Resend failed messages"))]
        indexes = [
            # The sender's sweep: due pending rows, oldest first. Partial, so it stays small.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="outbox_due_idx",
            ),
            # Crash recovery and the rate limit look at rows by claim time.
            models.Index(fields=["channel", "claimed_at"], name="outbox_claimed_idx"),
            models.Index(fields=["status", "claimed_at"], name="outbox_status_claimed_idx"),
            # The contact cap: a person's messages of the last 30 days.
            models.Index(
                fields=["person_key", "created_at"], condition=~Q(person_key=""), name="outbox_person_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(purpose="marketing") | ~Q(consent_ref=""),
                name="outbox_marketing_needs_consent",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.template_label} → {self.get_channel_display()}"

    @property
    def template_label(self) -> str:
        """The template's name in the reader's language (clinic.labels), not its key."""
        from clinic.labels import message_template_label

        return message_template_label(self.template_key)


class OptOutScope(models.TextChoices):
    MARKETING = "marketing", _("Marketing only")
    ALL = "all", _("All messages")


class OptOut(models.Model):
    """A recipient (phone, openid, e-mail address) who asked not to be messaged on a
    channel: marketing only, or everything. Checked when the message is sent, so a
    withdrawal works at once, even for messages already queued."""

    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=255)
    scope = models.CharField(
        _("scope"), max_length=16, choices=OptOutScope.choices, default=OptOutScope.MARKETING
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        constraints = [
            models.UniqueConstraint(fields=["channel", "recipient"], name="optout_one_per_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.recipient}"


class InboundKind(models.TextChoices):
    OPT_OUT = "opt_out", _("Opt-out reply")
    OTHER = "other", _("Other reply")


class InboundMessage(models.Model):
    """A reply a person sent to one of our messages (上行短信), as the provider pushed it.
    An opt-out keyword (T, TD, 退订…) records an opt-out at once; any other text is kept
    for staff to read."""

    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    provider = models.CharField(_("provider"), max_length=16)
    sender = models.CharField(_("sender"), max_length=255)
    text = models.CharField(_("text"), max_length=500)
    kind = models.CharField(_("handled as"), max_length=16, choices=InboundKind.choices)
    received_at = models.DateTimeField(_("received at"))
    # The provider's own id of the reply, so a pushed-again reply is stored once.
    provider_key = models.CharField(_("provider reference"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.sender}"


class ContactCap(models.Model):
    """HQ's contact cap: at most ``limit`` marketing messages per person in ``days`` days,
    across every app and channel (broadcasts, campaigns, birthday and recall messages). Care
    and service messages are exempt. One row (pk=1), edited in admin; no row means the
    defaults."""

    limit = models.PositiveSmallIntegerField(
        _("marketing messages per person"), default=4, validators=[MinValueValidator(1)]
    )
    days = models.PositiveSmallIntegerField(
        _("in this many days"), default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    is_active = models.BooleanField(_("cap in force"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("contact cap")
        verbose_name_plural = _("contact cap")
        default_permissions = ("view", "change", "add")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="contact_cap_single_row")]

    def __str__(self) -> str:
        return str(_("Contact cap"))


class WeChatAccessToken(models.Model):
    """The one access token per WeChat app id, shared by every process: fetching a new
    token invalidates the old one, so a per-process cache would make workers knock each
    other's tokens out."""

    app_id = models.CharField(_("app id"), max_length=64, unique=True)
    token = models.CharField(_("access token"), max_length=512)
    expires_at = models.DateTimeField(_("expires at"))
    refreshed_at = models.DateTimeField(_("refreshed at"), auto_now=True)

    class Meta:
        verbose_name = _("WeChat access token")
        verbose_name_plural = _("WeChat access tokens")
        default_permissions = ()

    def __str__(self) -> str:
        return self.app_id
