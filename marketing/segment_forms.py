"""The segment editor's form: it checks the shape of every filter and turns the cleaned values
into the JSON that ``Segment.filters`` keeps (ids, ISO dates, decimals as strings)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.utils.dates import MONTHS as MONTH_NAMES
from django.utils.translation import gettext_lazy as _

from clinic.fields import DateField, ShortTextField
from clinic.models import ServiceItem
from clinic.selectors import branches_for_user

from .segment_models import Quadrant

User = get_user_model()

MONTHS = [(str(number), name) for number, name in MONTH_NAMES.items()]
SCORES = [("", "—"), *[(str(n), str(n)) for n in range(1, 6)]]
CONSENT_CHANNELS = [("sms", _("SMS")), ("wechat", _("WeChat")), ("email", _("E-mail"))]


class _StaffChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        staff = getattr(obj, "staff", None)
        return staff.full_name if staff and staff.full_name else obj.get_username()


def _multi(label, choices=(), **kw):
    return forms.MultipleChoiceField(
        label=label, choices=choices, required=False, widget=forms.CheckboxSelectMultiple, **kw
    )


def _count(label, max_value=100000):
    return forms.IntegerField(label=label, required=False, min_value=0, max_value=max_value)


class SegmentForm(forms.Form):
    """Name and branch of the segment, then its filters (every one optional)."""

    name = ShortTextField(label=_("Segment name"), max_length=100)
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=None, required=False)
    description = ShortTextField(label=_("Description"), max_length=300, required=False)

    stages = _multi(_("Stage"))
    tiers = forms.ModelMultipleChoiceField(
        label=_("Member tier"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    tags = forms.ModelMultipleChoiceField(
        label=_("Tags (any of)"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    channels = forms.ModelMultipleChoiceField(label=_("Acquisition channel"), queryset=None, required=False)
    branches = forms.ModelMultipleChoiceField(label=_("Home branch"), queryset=None, required=False)
    genders = _multi(_("Gender"))
    age_min = _count(_("Age from"), 150)
    age_max = _count(_("Age to"), 150)
    birth_months = _multi(_("Birthday month"), MONTHS)
    first_visit_from = DateField(label=_("First visit from"), required=False)
    first_visit_to = DateField(label=_("First visit to"), required=False)
    last_visit_from = DateField(label=_("Last visit from"), required=False)
    last_visit_to = DateField(label=_("Last visit to"), required=False)
    visits_min = _count(_("Visits in 12 months, at least"))
    visits_max = _count(_("Visits in 12 months, at most"))
    spend_min = forms.DecimalField(
        label=_("Spend in 12 months, at least (¥)"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
    )
    spend_max = forms.DecimalField(
        label=_("Spend in 12 months, at most (¥)"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
    )
    points_min = _count(_("Points balance, at least"), 10**9)
    points_max = _count(_("Points balance, at most"), 10**9)
    expiring_points_min = _count(_("Points expiring soon, at least"), 10**9)
    expiring_days = forms.IntegerField(
        label=_("Expiring within (days)"), required=False, min_value=1, max_value=365
    )
    services = forms.ModelMultipleChoiceField(label=_("Services received"), queryset=None, required=False)
    consultants = _StaffChoice(label=_("Consultant"), queryset=None, required=False)
    partners = forms.ModelMultipleChoiceField(label=_("Referral partner"), queryset=None, required=False)
    recall_due_days = forms.IntegerField(
        label=_("Check-up due within (days)"), required=False, min_value=0, max_value=365
    )
    consents = _multi(_("Marketing consent on"), CONSENT_CHANNELS)
    quadrants = _multi(_("Quadrant"), Quadrant.choices)
    r_min = forms.ChoiceField(label=_("Recency score from"), choices=SCORES, required=False)
    r_max = forms.ChoiceField(label=_("Recency score to"), choices=SCORES, required=False)
    f_min = forms.ChoiceField(label=_("Frequency score from"), choices=SCORES, required=False)
    f_max = forms.ChoiceField(label=_("Frequency score to"), choices=SCORES, required=False)
    m_min = forms.ChoiceField(label=_("Spend score from"), choices=SCORES, required=False)
    m_max = forms.ChoiceField(label=_("Spend score to"), choices=SCORES, required=False)

    GROUPS = (
        (
            _("Who"),
            (
                "stages",
                "tiers",
                "tags",
                "channels",
                "branches",
                "genders",
                "age_min",
                "age_max",
                "birth_months",
            ),
        ),
        (
            _("Visits and spend"),
            (
                "first_visit_from",
                "first_visit_to",
                "last_visit_from",
                "last_visit_to",
                "visits_min",
                "visits_max",
                "spend_min",
                "spend_max",
                "services",
            ),
        ),
        (_("Points"), ("points_min", "points_max", "expiring_points_min", "expiring_days")),
        (_("Care and consent"), ("consultants", "partners", "recall_due_days", "consents")),
        (
            _("Quadrants and value scores"),
            ("quadrants", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max"),
        ),
    )
    META = ("name", "branch", "description")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from loyalty.models import Tier
        from members.models import AcquisitionChannel, Gender, Stage, Tag

        from .models import Partner

        branches = branches_for_user(user)
        self.fields["branch"].queryset = branches
        self.fields["branches"].queryset = branches
        self.fields["stages"].choices = Stage.choices
        self.fields["genders"].choices = [c for c in Gender.choices if c[0]]
        self.fields["tiers"].queryset = Tier.objects.filter(is_active=True).order_by("rank")
        self.fields["tags"].queryset = Tag.objects.all()
        self.fields["channels"].queryset = AcquisitionChannel.objects.filter(is_active=True)
        self.fields["services"].queryset = ServiceItem.objects.filter(is_active=True).order_by("code")
        self.fields["consultants"].queryset = (
            User.objects.filter(
                is_active=True, staff__role__in=["consultant", "branch_manager"], staff__branches__in=branches
            )
            .select_related("staff")
            .distinct()
            .order_by("staff__full_name", "pk")
        )
        self.fields["partners"].queryset = Partner.objects.filter(branch__in=branches).order_by("name")
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css + " form-control-sm" * (css == "form-control"))
            if isinstance(widget, forms.SelectMultiple):
                widget.attrs["size"] = 4
        if branches.count() == 1 and not self.is_bound:
            self.fields["branch"].initial = branches.first()

    def clean(self):
        cleaned = super().clean()
        for low, high in (
            ("age_min", "age_max"),
            ("visits_min", "visits_max"),
            ("spend_min", "spend_max"),
            ("points_min", "points_max"),
            ("first_visit_from", "first_visit_to"),
            ("last_visit_from", "last_visit_to"),
            ("r_min", "r_max"),
            ("f_min", "f_max"),
            ("m_min", "m_max"),
        ):
            a, b = cleaned.get(low), cleaned.get(high)
            if a in (None, "") or b in (None, ""):
                continue
            if (int(a) > int(b)) if isinstance(a, str) else a > b:
                self.add_error(high, _("The upper bound is below the lower bound."))
        return cleaned

    def filter_groups(self):
        return [(title, [self[name] for name in names]) for title, names in self.GROUPS]

    def filters(self) -> dict:
        """The cleaned filters as JSON values; empty ones left out."""
        out: dict = {}
        for name in self.fields:
            if name in self.META:
                continue
            value = self.cleaned_data.get(name)
            if value in (None, "", []) or (hasattr(value, "exists") and not value.exists()):
                continue
            if hasattr(value, "values_list"):
                value = sorted(value.values_list("pk", flat=True))
            elif isinstance(value, list):
                value = [int(v) if name == "birth_months" else v for v in value]
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            elif name in ("r_min", "r_max", "f_min", "f_max", "m_min", "m_max"):
                value = int(value)
            out[name] = value
        return out

    @staticmethod
    def initial_from(segment) -> dict:
        initial = {"name": segment.name, "branch": segment.branch_id, "description": segment.description}
        for key, value in (segment.filters or {}).items():
            if key == "birth_months":
                value = [str(v) for v in value]
            elif key in ("r_min", "r_max", "f_min", "f_max", "m_min", "m_max"):
                value = str(value)
            initial[key] = value
        return initial
