"""Forms check the shape of input only; the rules live in the services."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.fields import (
    BookingDateField,
    DateField,
    LongTextField,
    ScheduleDateField,
    ShortTextField,
    latest_booking_date,
)
from clinic.models import ServiceItem
from clinic.selectors import catalog_items

from . import schedule
from .fdi import parse_teeth
from .models import Channel, ExceptionKind, PaymentMethod, Status
from .selectors import chairs_for_branch


class DoctorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.staff.full_name


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} {obj.display_name}（{obj.duration_minutes}′）"


def _time_input():
    return forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M")


class BookingForm(forms.Form):
    member = forms.IntegerField(required=False, widget=forms.HiddenInput)
    lead_name = ShortTextField(label=_("New person's name"), max_length=50, required=False)
    lead_phone = ShortTextField(label=_("New person's phone"), max_length=20, required=False)
    service = ServiceChoiceField(label=_("Service"), queryset=ServiceItem.objects.none())
    doctor = DoctorChoiceField(label=_("Doctor"), queryset=None)
    chair = forms.ModelChoiceField(
        label=_("Chair"), queryset=None, required=False, empty_label=_("Any chair")
    )
    date = BookingDateField(label=_("Date"))
    time = forms.TimeField(label=_("Start time"), widget=_time_input())
    end_time = forms.TimeField(
        label=_("End time"),
        required=False,
        widget=_time_input(),
        help_text=_("Empty: the service's usual duration."),
    )
    channel = forms.ChoiceField(label=_("Booked via"), choices=Channel.choices, initial=Channel.PHONE)
    notes = LongTextField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    override = forms.BooleanField(
        label=_("Book even if the time is taken (overbooking, audited)"), required=False
    )

    def __init__(self, *args, branch, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = catalog_items()
        self.fields["doctor"].queryset = schedule.doctors_for_branch(branch)
        self.fields["chair"].queryset = chairs_for_branch(branch)
        if not user.has_perm("clinic.override_booking"):
            del self.fields["override"]

    def clean(self):
        data = super().clean()
        if not data.get("member") and not (data.get("lead_name") or "").strip():
            raise ValidationError(_("Choose a person, or enter a new person's name and phone."))
        if data.get("date") and data.get("time"):
            data["start"] = schedule.local_dt(data["date"], data["time"])
            data["end"] = schedule.local_dt(data["date"], data["end_time"]) if data.get("end_time") else None
        return data


class MoveForm(forms.Form):
    doctor = DoctorChoiceField(label=_("Doctor"), queryset=None)
    chair = forms.ModelChoiceField(
        label=_("Chair"), queryset=None, required=False, empty_label=_("Any chair")
    )
    date = BookingDateField(label=_("Date"))
    time = forms.TimeField(label=_("Start time"), widget=_time_input())
    reason = ShortTextField(label=_("Reason"), max_length=200, required=False)
    override = forms.BooleanField(
        label=_("Book even if the time is taken (overbooking, audited)"), required=False
    )

    def __init__(self, *args, branch, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = schedule.doctors_for_branch(branch)
        self.fields["chair"].queryset = chairs_for_branch(branch)
        if not user.has_perm("clinic.override_booking"):
            del self.fields["override"]


class CancelForm(forms.Form):
    reason = ShortTextField(label=_("Reason for cancelling"), max_length=200)


class FilterForm(forms.Form):
    date = ScheduleDateField(
        label=_("Date"),
        required=False,
        widget=forms.DateInput(
            attrs={"type": "date", "class": "form-control form-control-sm w-auto"}, format="%Y-%m-%d"
        ),
    )
    doctor = forms.IntegerField(required=False, widget=forms.HiddenInput)
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("All statuses")), *Status.choices],
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-sm w-auto"}),
    )
    by = forms.ChoiceField(choices=[("doctor", _("By doctor")), ("chair", _("By chair"))], required=False)
    q = ShortTextField(label=_("Name or phone"), required=False, max_length=50)

    def __init__(self, data=None, *args, **kwargs):
        # The date box shows the day viewed: today when the address names no date.
        today = timezone.localdate()
        if data is not None and not data.get("date"):
            data = data.copy()
            data["date"] = today.isoformat()
        super().__init__(data, *args, **kwargs)
        self.fields["date"].initial = today

    def day(self) -> dt.date:
        if self.is_valid() and self.cleaned_data.get("date"):
            return self.cleaned_data["date"]
        return timezone.localdate()


class WalkInForm(forms.Form):
    member = forms.IntegerField(required=False, widget=forms.HiddenInput)
    lead_name = ShortTextField(label=_("New person's name"), max_length=50, required=False)
    lead_phone = ShortTextField(label=_("New person's phone"), max_length=20, required=False)
    service = ServiceChoiceField(label=_("Service"), queryset=ServiceItem.objects.none())
    doctor = DoctorChoiceField(
        label=_("Doctor"),
        queryset=None,
        required=False,
        empty_label=_("Assign fairly (fewest patients today)"),
    )
    notes = ShortTextField(label=_("Notes"), required=False, max_length=500)

    def __init__(self, *args, branch, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = catalog_items()
        self.fields["doctor"].queryset = schedule.doctors_for_branch(branch)

    def clean(self):
        data = super().clean()
        if not data.get("member") and not (data.get("lead_name") or "").strip():
            raise ValidationError(_("Choose a person, or enter a new person's name and phone."))
        return data


def _earliest_leave() -> dt.date:
    """Leave can be recorded a month after the fact, no earlier (it moves no bookings then)."""
    return timezone.localdate() - dt.timedelta(days=31)


class LeaveForm(forms.Form):
    doctor = DoctorChoiceField(label=_("Doctor"), queryset=None)
    date = DateField(label=_("Date"), min_date=_earliest_leave, max_date=latest_booking_date)
    kind = forms.ChoiceField(label=_("Kind"), choices=ExceptionKind.choices, initial=ExceptionKind.LEAVE)
    starts = forms.TimeField(label=_("From"), required=False, widget=_time_input())
    ends = forms.TimeField(
        label=_("To"), required=False, widget=_time_input(), help_text=_("Empty: the whole day.")
    )
    reason = ShortTextField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, branch, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = schedule.doctors_for_branch(branch)


class BulkMoveForm(forms.Form):
    appointments = forms.TypedMultipleChoiceField(label=_("Appointments"), coerce=int, choices=())
    doctor = DoctorChoiceField(
        label=_("To doctor"), queryset=None, required=False, empty_label=_("Same doctor")
    )
    date = BookingDateField(label=_("To date"), required=False, help_text=_("Same time of day."))
    reason = ShortTextField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, branch, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = schedule.doctors_for_branch(branch)
        self.fields["appointments"].choices = choices

    def clean(self):
        data = super().clean()
        if not data.get("doctor") and not data.get("date"):
            raise ValidationError(_("Choose another doctor, another date, or both."))
        return data


class ChargeLineForm(forms.Form):
    item = ServiceChoiceField(label=_("Service"), queryset=ServiceItem.objects.none())
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=1,
        max_value=99,
        initial=1,
        help_text=_("A per-tooth service is billed once per tooth entered."),
    )
    teeth = ShortTextField(label=_("Teeth (FDI)"), required=False, max_length=100, help_text=_("e.g. 16 26"))
    doctor = DoctorChoiceField(
        label=_("Doctor"), queryset=None, required=False, empty_label=_("The visit's doctor")
    )

    def __init__(self, *args, branch, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].queryset = catalog_items()
        self.fields["doctor"].queryset = schedule.doctors_for_branch(branch)

    def clean_teeth(self) -> list[int]:
        return parse_teeth(self.cleaned_data.get("teeth", ""))

    def clean(self):
        data = super().clean()
        item, teeth = data.get("item"), data.get("teeth")
        # A per-tooth item follows its teeth: the untouched default of 1 becomes the number
        # of teeth; a different number typed in is left for the service to refuse.
        if item is not None and item.per_tooth and teeth and data.get("quantity") == 1:
            data["quantity"] = len(teeth)
        return data


class CheckoutForm(forms.Form):
    checkout_key = ShortTextField(widget=forms.HiddenInput, max_length=64)
    method = forms.ChoiceField(
        label=_("Payment method"), choices=PaymentMethod.choices, initial=PaymentMethod.WECHAT_PAY
    )
    amount = forms.DecimalField(label=_("Amount paid"), max_digits=12, decimal_places=2, min_value=0)
    method2 = forms.ChoiceField(
        label=_("Second payment method"), choices=[("", "—"), *PaymentMethod.choices], required=False
    )
    amount2 = forms.DecimalField(
        label=_("Second amount"), max_digits=12, decimal_places=2, min_value=0, required=False
    )
    coupons = ShortTextField(label=_("Coupon codes"), required=False, max_length=200)
    manual_discount = forms.DecimalField(
        label=_("Manual discount (supervisors)"), max_digits=12, decimal_places=2, min_value=0, required=False
    )
    manual_reason = ShortTextField(label=_("Reason for the manual discount"), max_length=200, required=False)

    def payments(self) -> list[tuple[str, object]]:
        data = self.cleaned_data
        out = [(data["method"], data["amount"])]
        if data.get("method2") and data.get("amount2"):
            out.append((data["method2"], data["amount2"]))
        return out

    def coupon_codes(self) -> list[str]:
        return split_codes(self.cleaned_data.get("coupons") or "")


def split_codes(raw: str) -> list[str]:
    """Coupon codes typed in one box, separated by commas (either width)."""
    return [c.strip().upper() for c in (raw or "")[:200].replace("，", ",").split(",") if c.strip()]


class VoidForm(forms.Form):
    reason = ShortTextField(label=_("Reason for the void"), max_length=200)


class MemberPickForm(forms.Form):
    q = ShortTextField(label=_("Find a person"), max_length=50, required=False)


class MaterialForm(forms.Form):
    """A material for one of the visit's charge lines (the batch is optional: without one,
    checkout takes first-expiry-first-out)."""

    line = forms.ModelChoiceField(label=_("Charge line"), queryset=None)
    item = forms.ModelChoiceField(label=_("Material"), queryset=None)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=999, initial=1)
    batch = forms.ModelChoiceField(
        label=_("Batch"), queryset=None, required=False, empty_label=_("First expiry first out")
    )

    def __init__(self, *args, visit, **kwargs):
        from inventory.models import Batch, Item

        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = visit.lines.select_related("item")
        self.fields["line"].label_from_instance = lambda obj: obj.item.display_name
        self.fields["line"].empty_label = None  # most visits have one line: it is the default
        self.fields["item"].queryset = Item.objects.filter(is_active=True).order_by("kind", "code")
        self.fields["item"].label_from_instance = lambda obj: f"{obj.code} {obj.display_name}（{obj.unit}）"
        self.fields["batch"].queryset = (
            Batch.objects.filter(
                balances__branch_id=visit.branch_id,
                balances__quantity__gt=0,
                expiry_date__gte=timezone.localdate(),
            )
            .select_related("item")
            .order_by("item__code", "expiry_date")
        )
        self.fields["batch"].label_from_instance = lambda obj: (
            f"{obj.item.display_name} · {obj.lot_number} · {obj.expiry_date:%Y-%m-%d}"
        )
        for f in self.fields.values():
            if isinstance(f.widget, forms.Select):
                f.widget.attrs.setdefault("class", "form-select")
