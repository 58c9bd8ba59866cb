"""Forms check the shape of input; the rules live in the services."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from clinic.fields import ShortTextField

from .models import Tier


class EnrolForm(forms.Form):
    welcome_points = forms.IntegerField(
        label=_("Welcome points"),
        min_value=0,
        max_value=100_000,
        required=False,
        help_text=_("Leave empty for the policy's default."),
    )


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"),
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text=_("Positive to grant, negative to deduct."),
    )
    reason = ShortTextField(label=_("Reason"), max_length=300)
    # One token per rendered form: a double click posts the same token, and the ledger's
    # idempotency key turns the second post into a no-op.
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a whole number of points other than zero."))
        return points


class TierOverrideForm(forms.Form):
    tier = forms.ModelChoiceField(label=_("New tier"), queryset=Tier.objects.filter(is_active=True))
    reason = ShortTextField(label=_("Reason"), max_length=300)
