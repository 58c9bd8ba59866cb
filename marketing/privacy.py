"""Marketing's part of a person's copy of their data (members.privacy): consultations, how
they came to the clinic (attribution), event sign-ups, broadcasts they were sent."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from members.privacy import Contributor, queryset_section, register_contributor

from .models import Attribution, BroadcastRecipient, CampaignSignup, Consultation


def contribute(member, *, medical: bool):
    return [
        queryset_section(
            "consultations",
            Consultation.objects.filter(member=member).select_related("consultant__staff").order_by("at"),
            ["at", "channel", "consultant__staff__full_name", "question", "outcome", "next_step"],
            labels={"consultant__staff__full_name": _("consultant")},
        ),
        queryset_section(
            "attribution",
            Attribution.objects.filter(member=member).select_related("channel", "partner", "referrer"),
            ["fixed_at", "channel", "partner", "referrer__name", "source"],
            labels={"referrer__name": _("referrer")},
        ),
        queryset_section(
            "events",
            CampaignSignup.objects.filter(member=member).select_related("campaign").order_by("signed_up_at"),
            ["campaign", "campaign__starts_at", "status", "channel", "signed_up_at", "checked_in_at"],
            labels={"campaign__starts_at": _("starts at")},
        ),
        queryset_section(
            "broadcasts",
            BroadcastRecipient.objects.filter(member=member).select_related("broadcast").order_by("id"),
            ["broadcast", "outcome"],
        ),
    ]


def register() -> None:
    register_contributor(Contributor("marketing", contribute, order=60))
