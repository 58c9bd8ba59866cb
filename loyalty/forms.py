"""Forms check the shape of input; the rules live in the services."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.fields import DateField, ShortTextField

from .models import StoredValueMethod, Tier


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


# --- stored value (储值) -----------------------------------------------------------------


def _money_field(label):
    return forms.DecimalField(label=label, max_digits=12, decimal_places=2, min_value=Decimal("0.01"))


class StoredValueTopUpForm(forms.Form):
    amount = _money_field(_("Amount paid in (CNY)"))
    method = forms.ChoiceField(label=_("Paid by"), choices=StoredValueMethod.choices)
    reference = ShortTextField(label=_("Payment reference"), max_length=100, required=False)
    # One token per rendered form: a double click tops up once (the ledger's idempotency key).
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class StoredValueRefundForm(forms.Form):
    amount = _money_field(_("Amount to refund (CNY)"))
    method = forms.ChoiceField(label=_("Paid back by"), choices=StoredValueMethod.choices)
    reason = ShortTextField(label=_("Reason"), max_length=300)
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class LiabilityForm(forms.Form):
    as_of = DateField(label=_("As of the end of"), required=False, max_date=timezone.localdate)
