"""What consultations add to the person's profile: the thread tab, timeline entries, and the
registration form's "referral partner" field (which fixes the first touch at registration)."""

from __future__ import annotations

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinic.selectors import user_branch_ids
from members.registry import RegistrationField, TimelineEntry

from .consultation_errors import MarketingError
from .consultation_selectors import member_consultations, staff_name
from .models import Attribution, Partner, TouchSource


def timeline(member, user, limit):
    for c in member_consultations(member, user, limit):
        yield TimelineEntry(
            at=c.at,
            kind="consultation",
            title=_("Consultation via %(channel)s · %(outcome)s")
            % {"channel": c.channel.display_name, "outcome": c.get_outcome_display()},
            detail=(c.question or "")[:120],
            icon="bi-headset",
            url=reverse("marketing:consult_detail", args=[c.pk]),
            staff=staff_name(c.consultant),
        )


def profile_tab(member, user) -> dict:
    from .attribution import CHANGE_PERM

    return {
        "consultations": member_consultations(member, user),
        "attribution": Attribution.objects.filter(member=member)
        .select_related("channel", "partner", "consultant__staff", "referrer", "consultation")
        .first(),
        "can_change_attribution": user.has_perm(CHANGE_PERM),
        "today": timezone.localdate(),
    }


def _field():
    return forms.ModelChoiceField(
        label=gettext_lazy("Referred by (partner)"),
        queryset=Partner.objects.filter(is_active=True),
        required=False,
    )


def _resolve(value, user):
    ids = user_branch_ids(user)
    if not value.is_active or (ids is not None and value.branch_id not in ids):
        raise MarketingError(_("Choose a referral partner of your branch."))
    return value


def _save(*, actor, member, value):
    from .attribution import attribution_first_touch

    attribution_first_touch(actor=actor, member=member, source=TouchSource.REGISTRATION, partner=value)


def registration_field() -> RegistrationField:
    return RegistrationField(
        name="referral_partner",
        field=_field,
        resolve=_resolve,
        save=_save,
        permission="members.add_member",
        order=20,
    )
