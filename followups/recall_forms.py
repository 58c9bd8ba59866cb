"""Forms of recall, satisfaction and the public surveys (visit and event): shape only; the
services decide."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.fields import DateField, LongTextField, ShortTextField

from .models import RecallType


def _stars():
    return forms.TypedChoiceField(
        choices=[(i, str(i)) for i in range(5, 0, -1)], coerce=int, widget=forms.RadioSelect
    )


class SurveyForm(forms.Form):
    doctor_score = _stars()
    front_desk_score = _stars()
    environment_score = _stars()
    waiting_score = _stars()
    nps = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend? (0–10)"),
        choices=[(i, str(i)) for i in range(11)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    tags = forms.MultipleChoiceField(
        label=_("What stood out?"), required=False, widget=forms.CheckboxSelectMultiple
    )
    comment = LongTextField(
        label=_("Anything else you would like to tell us?"), required=False, max_length=2000
    )

    def __init__(self, *args, **kwargs):
        from .surveys import TAGS

        super().__init__(*args, **kwargs)
        self.fields["doctor_score"].label = _("Your doctor")
        self.fields["front_desk_score"].label = _("Front desk")
        self.fields["environment_score"].label = _("Environment and hygiene")
        self.fields["waiting_score"].label = _("Waiting time")
        self.fields["tags"].choices = list(TAGS.items())
        self.fields["comment"].widget.attrs.update({"rows": 3, "class": "form-control"})

    def answer(self):
        """The valid form as the service's ``surveys.Answer``."""
        from .surveys import Answer

        d = self.cleaned_data
        return Answer(
            doctor_score=d["doctor_score"],
            front_desk_score=d["front_desk_score"],
            environment_score=d["environment_score"],
            waiting_score=d["waiting_score"],
            nps=d["nps"],
            tags=tuple(d["tags"]),
            comment=d["comment"] or "",
        )


class EventSurveyForm(forms.Form):
    """The event survey (followups.event_surveys): three star ratings, NPS, a comment."""

    overall_score = _stars()
    content_score = _stars()
    organisation_score = _stars()
    nps = forms.TypedChoiceField(
        label=_("How likely are you to recommend our events to a friend? (0–10)"),
        choices=[(i, str(i)) for i in range(11)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = LongTextField(label=_("What could we do better next time?"), required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["overall_score"].label = _("The event overall")
        self.fields["content_score"].label = _("Content: was it useful to you?")
        self.fields["organisation_score"].label = _("Organisation: sign-up, time, place")
        self.fields["comment"].widget.attrs.update({"rows": 3, "class": "form-control"})

    def answer(self):
        """The valid form as the service's ``event_surveys.EventAnswer``."""
        from .event_surveys import EventAnswer

        d = self.cleaned_data
        return EventAnswer(
            overall_score=d["overall_score"],
            content_score=d["content_score"],
            organisation_score=d["organisation_score"],
            nps=d["nps"],
            comment=d["comment"] or "",
        )


def _month_choices():
    today = timezone.localdate()
    out = []
    year, month = today.year, today.month
    for _i in range(24):
        out.append((f"{year:04d}-{month:02d}", f"{year:04d}-{month:02d}"))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out


class SatisfactionFilterForm(forms.Form):
    month = forms.ChoiceField(label=_("Month"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["month"].choices = _month_choices()
        self.fields["month"].widget.attrs["class"] = "form-select form-select-sm"

    def month_start(self) -> dt.date:
        value = self.cleaned_data.get("month") if self.is_valid() else ""
        if not value:
            today = timezone.localdate()
            return today.replace(day=1)
        year, month = (int(p) for p in value.split("-"))
        return dt.date(year, month, 1)


class RecallFilterForm(forms.Form):
    recall_type = forms.ModelChoiceField(
        label=_("Recall type"),
        queryset=RecallType.objects.filter(is_active=True),
        required=False,
        empty_label=_("All types"),
    )
    month = forms.ChoiceField(label=_("Due in"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        months = []
        year, month = today.year, today.month - 3
        for _i in range(12):
            while month < 1:
                year, month = year - 1, month + 12
            while month > 12:
                year, month = year + 1, month - 12
            months.append((f"{year:04d}-{month:02d}", f"{year:04d}-{month:02d}"))
            month += 1
        self.fields["month"].choices = months
        self.fields["month"].initial = f"{today.year:04d}-{today.month:02d}"
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select form-select-sm"

    def filters(self) -> dict:
        today = timezone.localdate()
        start = today.replace(day=1)
        rtype = None
        if self.is_valid():
            rtype = self.cleaned_data.get("recall_type")
            if self.cleaned_data.get("month"):
                y, m = (int(p) for p in self.cleaned_data["month"].split("-"))
                start = dt.date(y, m, 1)
        end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return {"start": start, "end": end, "recall_type": rtype}


class RecallDueForm(forms.Form):
    due_on = DateField(
        label=_("New due date"),
        min_date=lambda: timezone.localdate() - dt.timedelta(days=365),
        max_date=lambda: timezone.localdate() + dt.timedelta(days=3 * 365),
    )
    reason = ShortTextField(label=_("Reason"), max_length=200)
