"""Forms of the campaign pages: they check the shape of the input; the rules (dates in
order, own branch, budget not negative) are ``marketing.campaigns``'."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from clinic.fields import LongTextField, ShortTextField
from clinic.selectors import branches_for_user

from .models import CampaignKind

_LOCAL = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.DateTimeField):
    """A local date and time from the browser's ``datetime-local`` picker (Asia/Shanghai:
    Django makes it aware in the current time zone)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=_LOCAL)
    input_formats = [_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


class CampaignForm(forms.Form):
    name = ShortTextField(label=_("Campaign name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=CampaignKind.choices)
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=None)
    starts_at = LocalDateTimeField(label=_("Starts at"))
    ends_at = LocalDateTimeField(label=_("Ends at"))
    capacity = forms.IntegerField(
        label=_("Places"), min_value=0, max_value=100000, initial=0, help_text=_("0 means no limit.")
    )
    channels = ShortTextField(
        label=_("Channels"), max_length=200, required=False, help_text=_("For example WeChat, SMS, posters.")
    )
    budget = forms.DecimalField(
        label=_("Budget"),
        min_value=Decimal("0"),
        max_value=Decimal("100000000"),
        max_digits=12,
        decimal_places=2,
        initial=0,
    )
    reward_points = forms.IntegerField(
        label=_("Points for attending"), min_value=0, max_value=1000000, initial=0
    )
    reward_coupon = forms.ModelChoiceField(
        label=_("Coupon for attending"), queryset=None, required=False, empty_label=_("No coupon")
    )
    target_tag = forms.ModelChoiceField(
        label=_("Target tag"), queryset=None, required=False, empty_label=_("Everyone")
    )
    notes = LongTextField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, user, campaign=None, **kwargs):
        from loyalty.coupon_models import CouponTemplate
        from members.models import Tag

        if campaign is not None:
            kwargs.setdefault(
                "initial",
                {f: getattr(campaign, f) for f in self.base_fields},
            )
        super().__init__(*args, **kwargs)
        branches = branches_for_user(user)
        self.fields["branch"].queryset = branches
        if campaign is not None:
            # A campaign stays at its branch: its sign-ups and prices belong there.
            self.fields["branch"].disabled = True
            self.fields["branch"].queryset = branches.model.objects.filter(pk=campaign.branch_id)
        self.fields["reward_coupon"].queryset = CouponTemplate.objects.order_by("name", "pk")
        self.fields["target_tag"].queryset = Tag.objects.order_by("name", "pk")
        if branches.count() == 1 and not self.is_bound:
            self.fields["branch"].initial = branches.first()

    def clean(self):
        data = super().clean()
        start, end = data.get("starts_at"), data.get("ends_at")
        if start and end and end <= start:
            self.add_error("ends_at", _("A campaign must end after it starts."))
        return data


class CheckinForm(forms.Form):
    code = ShortTextField(label=_("Card or QR code"), max_length=40)


class DrawForm(forms.Form):
    prize = ShortTextField(label=_("Prize"), max_length=100)
    count = forms.IntegerField(label=_("Winners"), min_value=1, max_value=1000, initial=1)


class CampaignPriceForm(forms.Form):
    """A member-day price: a special price or a percentage off (the service checks the rules)."""

    item = forms.ModelChoiceField(
        label=_("Service"), queryset=None, widget=forms.Select(attrs={"class": "form-select form-select-sm"})
    )
    price = forms.DecimalField(
        label=_("Special price"),
        required=False,
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm", "step": "0.01"}),
        min_value=Decimal("0"),
        max_value=Decimal("10000000"),
        max_digits=12,
        decimal_places=2,
    )
    percent_off = forms.DecimalField(
        label=_("Or percent off"),
        required=False,
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm", "step": "0.01"}),
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
    )
    with_tier = forms.BooleanField(
        label=_("Tier discount as well"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    members_only = forms.BooleanField(
        label=_("Members only"),
        required=False,
        initial=True,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args, **kwargs):
        from clinic.models import ServiceItem

        super().__init__(*args, **kwargs)
        self.fields["item"].queryset = ServiceItem.objects.filter(is_active=True).order_by("code", "pk")

    def clean(self):
        data = super().clean()
        if data.get("price") is None and data.get("percent_off") is None and not self.errors:
            self.add_error("price", _("Give either a special price or a percentage off, not both."))
        elif data.get("price") is not None and data.get("percent_off") is not None:
            self.add_error("percent_off", _("Give either a special price or a percentage off, not both."))
        return data
