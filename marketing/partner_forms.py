"""Forms of the partner pages: they check the shape of the input; the rules are the services'."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from clinic.fields import DateField, LongTextField, ShortTextField
from clinic.selectors import branches_for_user, catalog_categories

from .models import PartnerKind, RebateKind

User = get_user_model()


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        staff = getattr(obj, "staff", None)
        return staff.full_name if staff and staff.full_name else obj.get_username()


class PartnerForm(forms.Form):
    name = ShortTextField(label=_("Partner name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=PartnerKind.choices)
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=None)
    account_manager = StaffChoiceField(label=_("Looked after by"), queryset=None, required=False)
    phone = ShortTextField(label=_("Phone"), max_length=30, required=False)
    address = ShortTextField(label=_("Address"), max_length=255, required=False)
    notes = LongTextField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        branches = branches_for_user(user)
        self.fields["branch"].queryset = branches
        self.fields["account_manager"].queryset = (
            User.objects.filter(is_active=True, staff__branches__in=branches)
            .select_related("staff")
            .distinct()
            .order_by("staff__full_name", "pk")
        )
        if branches.count() == 1 and not self.is_bound:
            self.fields["branch"].initial = branches.first()


class ContactForm(forms.Form):
    name = ShortTextField(label=_("Name"), max_length=50)
    title = ShortTextField(label=_("Position"), max_length=50, required=False)
    phone = ShortTextField(label=_("Phone"), max_length=30, required=False)
    notes = ShortTextField(label=_("Notes"), max_length=255, required=False)


class TermForm(forms.Form):
    kind = forms.ChoiceField(label=_("Rebate"), choices=RebateKind.choices)
    category = forms.ModelChoiceField(
        label=_("Service category"),
        queryset=None,
        required=False,
        empty_label=_("All categories"),
    )
    percent = forms.DecimalField(
        label=_("Percentage"),
        required=False,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        help_text=_("Of the amount actually paid (stored-value bonus money does not count)."),
    )
    amount = forms.DecimalField(
        label=_("Fixed amount"),
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("1000000"),
        help_text=_("Once per person, for their first paid visit."),
    )
    valid_from = DateField(label=_("Valid from"))
    valid_until = DateField(label=_("Valid until"), required=False, help_text=_("Empty: open-ended."))
    notes = ShortTextField(label=_("Notes"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = catalog_categories()

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == RebateKind.PERCENT and data.get("percent") is None:
            self.add_error("percent", _("Give the percentage."))
        if kind == RebateKind.FIXED and data.get("amount") is None:
            self.add_error("amount", _("Give the amount."))
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", _("The end cannot be before the start."))
        return data


class SettleForm(forms.Form):
    paid_amount = forms.DecimalField(
        label=_("Amount paid"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("1e9"),
    )
    reference = ShortTextField(label=_("Payment reference"), max_length=100, required=False)
    note = ShortTextField(label=_("Note"), max_length=200, required=False)
