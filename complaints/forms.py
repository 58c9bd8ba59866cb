"""Forms of the complaint pages: they check the shape of input only; the rules are in
``complaints.services``."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.fields import LongTextField, ShortTextField
from clinic.models import Role
from clinic.roles import GROUP_NAMES
from clinic.selectors import branches_for_user

from .models import OPEN_STATUSES, Category, Channel, MakeGoodKind, ReviewFinding, RootCause, Severity, Status

User = get_user_model()


def _select(widget):
    widget.attrs.setdefault("class", "form-select")
    return widget


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return getattr(getattr(obj, "staff", None), "full_name", "") or obj.get_username()


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern); the service checks each."""

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class IntakeForm(forms.Form):
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=None, widget=_select(forms.Select()))
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, widget=_select(forms.Select()))
    received_at = forms.DateTimeField(
        label=_("Received at"),
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"
        ),
        help_text=_("Leave empty for now."),
    )
    member_phone = ShortTextField(
        label=_("Person on file: phone or card number"),
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"class": "form-control", "inputmode": "tel"}),
    )
    contact_name = ShortTextField(
        label=_("Or a contact: name"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    contact_phone = ShortTextField(
        label=_("Contact phone"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"class": "form-control", "inputmode": "tel"}),
    )
    subject = ShortTextField(
        label=_("Subject"), max_length=120, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    description = LongTextField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"})
    )
    expectation = LongTextField(
        label=_("What the customer expects"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )
    severity = forms.ChoiceField(
        label=_("Severity"), choices=Severity.choices, widget=_select(forms.Select())
    )
    category = forms.ChoiceField(
        label=_("Category"), choices=Category.choices, widget=_select(forms.Select())
    )
    visit = forms.IntegerField(
        label=_("Related visit number"),
        required=False,
        min_value=1,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    staff = StaffChoiceField(
        label=_("Staff complained about"), queryset=None, required=False, widget=_select(forms.Select())
    )
    attachments = MultipleFileField(
        label=_("Photos and documents"),
        required=False,
        widget=MultipleFileInput(
            attrs={
                "class": "form-control",
                "accept": ".jpg,.jpeg,.png,.webp,.heic,.pdf,.docx,.xlsx,.txt,.m4a,.mp3",
            }
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        branches = branches_for_user(user)
        self.fields["branch"].queryset = branches
        self.fields["staff"].queryset = (
            User.objects.filter(is_active=True, staff__branches__in=branches)
            .select_related("staff")
            .distinct()
            .order_by("staff__full_name", "pk")
        )
        default = getattr(getattr(user, "staff", None), "default_branch_id", None)
        if default and not self.is_bound:
            self.initial.setdefault("branch", default)

    def clean_received_at(self):
        value = self.cleaned_data.get("received_at")
        if value and value > timezone.now() + dt.timedelta(minutes=5):
            raise forms.ValidationError(_("The time of receipt cannot be in the future."))
        return value


class ListFilterForm(forms.Form):
    OPEN = "open"
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), (OPEN, _("Open")), *Status.choices],
        widget=_select(forms.Select(attrs={"class": "form-select form-select-sm"})),
    )
    severity = forms.ChoiceField(
        label=_("Severity"),
        required=False,
        choices=[("", _("All")), *Severity.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    category = forms.ChoiceField(
        label=_("Category"),
        required=False,
        choices=[("", _("All")), *Category.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    overdue = forms.BooleanField(
        label=_("Overdue only"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def filters(self) -> dict:
        if not self.is_valid():
            return {"status": self.OPEN}
        data = dict(self.cleaned_data)
        if "status" not in self.data:
            data["status"] = self.OPEN
        return data


class TextForm(forms.Form):
    text = LongTextField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}))


class OptionalTextForm(forms.Form):
    text = LongTextField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )


class CloseForm(forms.Form):
    satisfaction = forms.TypedChoiceField(
        label=_("Satisfaction at the follow-up call"),
        coerce=int,
        choices=[(i, str(i)) for i in range(5, 0, -1)],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    root_cause = forms.ChoiceField(
        label=_("Root cause"), choices=RootCause.choices, widget=forms.Select(attrs={"class": "form-select"})
    )
    corrective_action = LongTextField(
        label=_("Corrective action"), widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )
    lessons = LongTextField(
        label=_("Lessons learned"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )


class ReviewRequestForm(forms.Form):
    reviewer = StaffChoiceField(
        label=_("Doctor"), queryset=None, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args, complaint, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].queryset = (
            User.objects.filter(
                is_active=True,
                groups__name__in=[GROUP_NAMES[Role.DOCTOR], GROUP_NAMES[Role.HQ_ADMIN]],
                staff__branches=complaint.branch_id,
            )
            .exclude(pk=complaint.staff_id or 0)
            .select_related("staff")
            .distinct()
            .order_by("staff__full_name", "pk")
        )


class ReviewForm(forms.Form):
    finding = forms.ChoiceField(
        label=_("Finding"), choices=ReviewFinding.choices, widget=forms.Select(attrs={"class": "form-select"})
    )
    text = LongTextField(
        label=_("Explanation"), widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )


class MakeGoodForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Make-good"),
        choices=MakeGoodKind.choices,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    coupon_template = forms.ModelChoiceField(
        label=_("Coupon"), queryset=None, required=False, widget=forms.Select(attrs={"class": "form-select"})
    )
    points = forms.IntegerField(
        label=_("Points"),
        required=False,
        min_value=1,
        max_value=1_000_000,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    amount = forms.DecimalField(
        label=_("Refund amount (CNY)"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.01"}),
    )
    note = ShortTextField(
        label=_("Note"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from loyalty.coupon_models import CouponTemplate

        self.fields["coupon_template"].queryset = CouponTemplate.objects.filter(is_active=True).order_by(
            "name"
        )


class AttachForm(forms.Form):
    file = forms.FileField(
        label=_("Photo or document"), widget=forms.ClearableFileInput(attrs={"class": "form-control"})
    )


__all__ = ["OPEN_STATUSES"]
