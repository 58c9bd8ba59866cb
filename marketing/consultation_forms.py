"""Forms check the shape of input only; the rules live in ``marketing.consultations``."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.fields import DateField, LongTextField, ShortTextField
from clinic.selectors import catalog_items, scope_to_branches
from members.models import AcquisitionChannel

from .consultation_models import ConsultationChannel, Outcome
from .consultations import MANAGE_PERM
from .models import Partner


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        staff = getattr(obj, "staff", None)
        return staff.full_name if staff else obj.get_username()


class ChannelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.display_name


class ServicesField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} {obj.display_name}"


def consultants_of(user):
    """Who a manager may log a consultation for: the consultants of their branches."""
    users = get_user_model().objects.filter(is_active=True, staff__role__in=["consultant", "branch_manager"])
    return scope_to_branches(users, user, field="staff__branches").distinct().select_related("staff")


def _due_max() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=366)


class ConsultationForm(forms.Form):
    member = forms.IntegerField(required=False, widget=forms.HiddenInput)
    lead_name = ShortTextField(label=_("New caller's name"), max_length=50, required=False)
    lead_phone = ShortTextField(label=_("New caller's phone"), max_length=20, required=False)
    allow_duplicate = forms.BooleanField(
        label=_("Register anyway (a different person with this phone)"), required=False
    )
    channel = ChannelChoiceField(label=_("Channel"), queryset=ConsultationChannel.objects.none())
    consultant = StaffChoiceField(label=_("Consultant"), queryset=None, required=False)
    question = LongTextField(
        label=_("What they asked"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    services = ServicesField(label=_("Services of interest"), queryset=None, required=False)
    quote = forms.DecimalField(
        label=_("Quote (¥)"),
        required=False,
        min_value=0,
        max_value=9_999_999,
        decimal_places=2,
        max_digits=12,
    )
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices, initial=Outcome.CONSIDERING)
    outcome_reason = ShortTextField(label=_("Reason"), max_length=200, required=False)
    next_step = ShortTextField(label=_("Next step"), max_length=200, required=False)
    next_step_due = DateField(
        label=_("Next step due"), required=False, min_date=timezone.localdate, max_date=_due_max
    )
    partner = forms.ModelChoiceField(
        label=_("Referral partner"), queryset=Partner.objects.none(), required=False
    )

    def __init__(self, *args, user, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = ConsultationChannel.objects.filter(is_active=True)
        self.fields["services"].queryset = catalog_items()
        self.fields["partner"].queryset = scope_to_branches(Partner.objects.filter(is_active=True), user)
        if editing:
            for name in ("member", "lead_name", "lead_phone", "allow_duplicate", "consultant"):
                del self.fields[name]
            # An older step's due date may already be past: keep it editable.
            self.fields["next_step_due"].min_date = None
        elif user.has_perm(MANAGE_PERM):
            self.fields["consultant"].queryset = consultants_of(user)
        else:
            del self.fields["consultant"]

    def clean(self):
        data = super().clean()
        if "member" in self.fields and not data.get("member") and not (data.get("lead_name") or "").strip():
            self.add_error("lead_name", _("Choose a person, or enter a new caller's name and phone."))
        return data


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Final outcome"), choices=Outcome.choices)
    reason = ShortTextField(label=_("Reason"), max_length=200, required=False)


class AttributionForm(forms.Form):
    channel = forms.ModelChoiceField(
        label=_("Acquisition channel"), queryset=AcquisitionChannel.objects.none(), required=False
    )
    partner = forms.ModelChoiceField(
        label=_("Referral partner"), queryset=Partner.objects.none(), required=False
    )
    consultant = StaffChoiceField(label=_("Consultant"), queryset=None, required=False)
    reason = ShortTextField(label=_("Reason for the change"), max_length=200)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = AcquisitionChannel.objects.filter(is_active=True)
        self.fields["partner"].queryset = scope_to_branches(Partner.objects.filter(is_active=True), user)
        self.fields["consultant"].queryset = consultants_of(user)


BY_CHOICES = [
    ("channel", _("By channel")),
    ("consultant", _("By consultant")),
    ("partner", _("By referral partner")),
    ("month", _("By month")),
]


def _year_ago() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=365)


class FunnelForm(forms.Form):
    date_from = DateField(label=_("From"), required=False)
    date_to = DateField(label=_("To"), required=False)
    by = forms.ChoiceField(label=_("Rows"), choices=BY_CHOICES, required=False)
    by_month = forms.BooleanField(label=_("Split by month"), required=False)
    branch = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)

    def period(self) -> tuple[dt.date, dt.date]:
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        lo = data.get("date_from") or today.replace(day=1)
        hi = data.get("date_to") or today
        if hi < lo:
            lo, hi = hi, lo
        if (hi - lo).days > 366 * 3:
            lo = hi - dt.timedelta(days=366 * 3)
        return lo, hi

    def dimension(self) -> str:
        data = self.cleaned_data if self.is_valid() else {}
        return data.get("by") or "channel"

    def split(self) -> bool:
        data = self.cleaned_data if self.is_valid() else {}
        return bool(data.get("by_month")) and self.dimension() != "month"


STAGE_CHOICES = [
    ("consultations", _("Consultations")),
    ("booked", _("Booked")),
    ("arrived", _("Arrived")),
    ("paid", _("Paid visit")),
    ("enrolled", _("Enrolled")),
]


class DrillForm(FunnelForm):
    stage = forms.ChoiceField(choices=STAGE_CHOICES, required=False)
    key = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
    month = DateField(required=False)
