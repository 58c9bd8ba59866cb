"""Marketing's own records. This module holds what every part of the app shares: referral
partners (转诊单位) and the first touch of each person (Attribution). Consultations live in
``consultation_models``, rebates and statements in ``partner_models`` (imported at the end)."""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch
from members.models import AcquisitionChannel, Member


class PartnerKind(models.TextChoices):
    COMPANY = "company", _("Company")
    SCHOOL = "school", _("School")
    PHARMACY = "pharmacy", _("Pharmacy")
    CLINIC = "clinic", _("Another clinic")
    DOCTOR = "doctor", _("Doctor")
    OTHER = "other", _("Other")


@pghistory.track()
class Partner(models.Model):
    """转诊单位: an organisation or a doctor that sends people to the clinic. ``branch`` is
    the branch whose marketing looks after it (its statements are that branch's); the people
    it sends may be seen at any branch."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=PartnerKind.choices)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="partners", verbose_name=_("branch")
    )
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_partners",
        verbose_name=_("looked after by"),
    )
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("referral partner")
        verbose_name_plural = _("referral partners")
        constraints = [
            models.UniqueConstraint(fields=["branch", "name"], name="marketing_partner_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class PartnerContact(models.Model):
    """A person to talk to at a partner."""

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("partner")
    )
    name = models.CharField(_("name"), max_length=50)
    title = models.CharField(_("title"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    notes = models.CharField(_("notes"), max_length=255, blank=True)

    class Meta:
        ordering = ["partner", "id"]
        verbose_name = _("partner contact")
        verbose_name_plural = _("partner contacts")

    def __str__(self) -> str:
        return f"{self.partner} · {self.name}"


class TouchSource(models.TextChoices):
    CONSULTATION = "consultation", _("Consultation")
    REGISTRATION = "registration", _("Registration")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("Changed by staff")


@pghistory.track()
class Attribution(models.Model):
    """A person's first touch: who and what brought them, fixed at their first consultation
    or registration (docs/marketing.md). Changed only by ``marketing.services``, audited."""

    member = models.OneToOneField(
        Member, on_delete=models.CASCADE, related_name="attribution", verbose_name=_("person")
    )
    channel = models.ForeignKey(
        AcquisitionChannel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
    )
    partner = models.ForeignKey(
        Partner,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attributions",
        verbose_name=_("referral partner"),
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("consultant"),
    )
    referrer = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("referring member"),
    )
    consultation = models.ForeignKey(
        "marketing.Consultation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("first consultation"),
    )
    source = models.CharField(_("fixed by"), max_length=14, choices=TouchSource.choices)
    fixed_at = models.DateTimeField(_("fixed at"), default=timezone.now)

    class Meta:
        verbose_name = _("first touch")
        verbose_name_plural = _("first touches")
        indexes = [
            models.Index(fields=["partner"], name="marketing_attr_partner"),
            models.Index(fields=["channel", "fixed_at"], name="marketing_attr_channel"),
        ]

    def __str__(self) -> str:
        return str(self.member)


from .broadcast_models import *  # noqa: E402, F403
from .campaign_models import *  # noqa: E402, F403
from .consultation_models import *  # noqa: E402, F403
from .partner_models import *  # noqa: E402, F403
from .segment_models import *  # noqa: E402, F403
