"""Forms of the clinical pages: shape of input only; the rules are in ``clinical.services``."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from appointments.fdi import parse_teeth
from appointments.models import Visit
from clinic.fields import LongTextField, ShortTextField
from clinic.models import ServiceItem

from .models import POCKET_SITES, AttachmentKind, FindingKind, PlanType, Surface


def _css(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput):
            continue
        cls = "form-select" if isinstance(widget, forms.Select) else "form-control"
        widget.attrs.setdefault("class", cls)


POCKET_SITE_LABELS = (
    _("Mesio-buccal pocket"),
    _("Buccal pocket"),
    _("Disto-buccal pocket"),
    _("Mesio-lingual pocket"),
    _("Lingual pocket"),
    _("Disto-lingual pocket"),
)


class TeethField(ShortTextField):
    def clean(self, value):
        value = super().clean(value)
        return parse_teeth(value or "")


class VisitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        doctor = getattr(getattr(obj.doctor, "staff", None), "full_name", "")
        return f"{timezone.localtime(obj.opened_at):%Y-%m-%d %H:%M} · {obj.branch} · {doctor}"


def _visits(member):
    return (
        Visit.objects.filter(member=member)
        .exclude(status="voided")
        .select_related("branch", "doctor__staff")
        .order_by("-opened_at")
    )


class FindingForm(forms.Form):
    visit = VisitChoiceField(
        label=_("Visit"),
        queryset=Visit.objects.none(),
        required=False,
        empty_label=_("No visit (chart update)"),
    )
    teeth = TeethField(
        label=_("Teeth (FDI)"), max_length=200, help_text=_("e.g. 16 26, or 55 for a primary tooth")
    )
    kind = forms.ChoiceField(label=_("What was found"), choices=FindingKind.choices)
    surfaces = forms.MultipleChoiceField(
        label=_("Surfaces"),
        choices=[c for c in Surface.choices if c[0]],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    mobility = forms.IntegerField(label=_("Mobility grade (0–3)"), min_value=0, max_value=3, required=False)
    note = ShortTextField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, member, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["visit"].queryset = _visits(member)
        for site in POCKET_SITES:
            self.fields[f"pocket_{site}"] = forms.IntegerField(
                label=site, min_value=0, max_value=20, required=False
            )
        _css(self)

    @property
    def pocket_fields(self):
        return [self[f"pocket_{s}"] for s in POCKET_SITES]

    def pockets(self) -> list:
        return [self.cleaned_data.get(f"pocket_{s}") for s in POCKET_SITES]


class AsOfForm(forms.Form):
    as_of = forms.DateField(
        label=_("Chart as of"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    visit = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _css(self)


class NoteForm(forms.Form):
    chief_complaint = LongTextField(
        label=_("Chief complaint"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    examination = LongTextField(
        label=_("Examination"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    diagnosis = LongTextField(
        label=_("Diagnosis"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    treatment = LongTextField(
        label=_("Treatment"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    advice = LongTextField(
        label=_("Advice"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _css(self)


class AmendForm(NoteForm):
    reason = ShortTextField(label=_("Reason for the amendment"), max_length=500)


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=AttachmentKind.choices)
    visit = VisitChoiceField(
        label=_("Visit"), queryset=Visit.objects.none(), required=False, empty_label=_("No visit")
    )
    file = forms.FileField(label=_("File"), help_text=_("JPEG, PNG, TIFF, WebP or PDF"))

    def __init__(self, *args, member, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["visit"].queryset = _visits(member)
        _css(self)


class PlanForm(forms.Form):
    plan_type = forms.ModelChoiceField(
        label=_("Plan type"), queryset=PlanType.objects.none(), empty_label=None
    )
    title = ShortTextField(label=_("Title"), max_length=100)
    estimated_weeks = forms.IntegerField(
        label=_("Estimated duration (weeks)"), min_value=1, max_value=260, initial=1
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan_type"].queryset = PlanType.objects.filter(is_active=True)
        _css(self)


class PhaseForm(forms.Form):
    name = ShortTextField(label=_("Phase name"), max_length=60)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _css(self)


class ItemChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.display_name} · ¥{obj.price}"


class PlanItemForm(forms.Form):
    phase = forms.ModelChoiceField(label=_("Phase"), queryset=None, empty_label=None)
    item = ItemChoiceField(label=_("Service"), queryset=ServiceItem.objects.none())
    teeth = TeethField(label=_("Teeth (FDI)"), max_length=200, required=False)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=99, required=False)
    alternative_group = ShortTextField(
        label=_("Alternative group"),
        max_length=20,
        required=False,
        help_text=_("Same group name: the patient picks one, e.g. “缺牙修复”"),
    )
    note = ShortTextField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phase"].queryset = plan.phases.all()
        self.fields["item"].queryset = (
            ServiceItem.objects.filter(is_active=True)
            .select_related("category")
            .order_by("category__sort_order", "code")
        )
        _css(self)


class ItemRefForm(forms.Form):
    item = forms.IntegerField(min_value=1)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("approve", _("Approve")), ("return", _("Return with comments"))]
    )
    comment = LongTextField(
        label=_("Comments"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _css(self)


class ChargeForm(forms.Form):
    item = forms.IntegerField(min_value=1)
    visit = forms.ModelChoiceField(label=_("Open visit"), queryset=Visit.objects.none(), empty_label=None)

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["visit"].queryset = Visit.objects.filter(member_id=plan.member_id, status="open")
        _css(self)


class TraceForm(forms.Form):
    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        from .tracing import trace_filters

        super().__init__(*args, **kwargs)
        for f in trace_filters():
            self.fields[f.key] = f.field()
        today = timezone.localdate()
        self.fields["date_from"].initial = today - dt.timedelta(days=365)
        self.fields["date_to"].initial = today
        _css(self)

    def clean(self):
        data = super().clean()
        a, b = data.get("date_from"), data.get("date_to")
        if a and b and a > b:
            raise ValidationError(_("The first day is after the last."))
        if a and b and (b - a).days > 3660:
            raise ValidationError(_("At most ten years at a time."))
        return data
