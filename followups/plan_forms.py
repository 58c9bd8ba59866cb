"""Forms of the work list and of working a task: they check the shape of input only."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.fields import DateField, LongTextField, ShortTextField
from clinic.selectors import branches_for_user

from .models import AttemptOutcome, TaskChannel, TaskKind
from .task_services import NextStep, assignable_staff, sms_templates

User = get_user_model()
UNASSIGNED = "none"


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return getattr(getattr(obj, "staff", None), "full_name", "") or obj.get_username()


def staff_for(user):
    """Whom the user may give tasks to: who works tasks at any of the user's branches."""
    ids = set()
    for branch in branches_for_user(user):
        ids.update(assignable_staff(branch).values_list("pk", flat=True))
    return User.objects.filter(pk__in=ids).select_related("staff").order_by("staff__full_name", "pk")


def _small(widget):
    widget.attrs.setdefault("class", "form-select form-select-sm")
    return widget


class WorklistFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[("", _("All kinds")), *TaskKind.choices],
        required=False,
        widget=_small(forms.Select()),
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("All channels")), *TaskChannel.choices],
        required=False,
        widget=_small(forms.Select()),
    )
    assignee = forms.ChoiceField(label=_("Assignee"), required=False, widget=_small(forms.Select()))
    due_from = DateField(
        label=_("Due from"),
        required=False,
        widget=forms.DateInput(
            attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"
        ),
    )
    due_to = DateField(
        label=_("Due until"),
        required=False,
        widget=forms.DateInput(
            attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.staff = {str(u.pk): u for u in staff_for(user)}
        self.fields["assignee"].choices = [
            ("", _("Anyone")),
            (UNASSIGNED, _("Unassigned")),
            *((pk, StaffChoiceField.label_from_instance(None, u)) for pk, u in self.staff.items()),
        ]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        chosen = data.get("assignee") or ""
        return {
            "kind": data.get("kind") or "",
            "channel": data.get("channel") or "",
            "assignee": self.staff.get(chosen),
            "unassigned": chosen == UNASSIGNED,
            "due_from": data.get("due_from"),
            "due_to": data.get("due_to"),
        }


def _tomorrow() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=1)


def _within_a_year() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=366)


class AttemptForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=AttemptOutcome.choices, widget=forms.RadioSelect)
    satisfaction = forms.TypedChoiceField(
        label=_("Satisfaction"),
        choices=[("", _("Not asked")), *((n, f"{n} ★") for n in range(5, 0, -1))],
        coerce=int,
        empty_value=None,
        required=False,
    )
    notes = LongTextField(label=_("Notes"), required=False, max_length=2000)
    log_contact = forms.BooleanField(
        label=_("Also note it in the communication log"), required=False, initial=True
    )
    next_step = forms.ChoiceField(
        label=_("Next step"),
        choices=[
            (NextStep.NONE, _("None")),
            (NextStep.TASK, _("Another task")),
            (NextStep.BOOK, _("Book an appointment")),
        ],
        initial=NextStep.NONE,
        widget=forms.RadioSelect,
    )
    next_due = DateField(
        label=_("Next task on"), required=False, min_date=timezone.localdate, max_date=_within_a_year
    )
    next_title = ShortTextField(label=_("Next task"), required=False, max_length=120)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["next_due"].initial = _tomorrow()
        self.fields["satisfaction"].widget.attrs["class"] = "form-select"
        for name in ("next_due", "next_title"):
            self.fields[name].widget.attrs["class"] = "form-control form-control-sm"
        for name in ("outcome", "next_step", "log_contact"):
            self.fields[name].widget.attrs["class"] = "form-check-input"


class ReassignForm(forms.Form):
    assignee = StaffChoiceField(
        label=_("Give to"), queryset=User.objects.none(), required=False, empty_label=_("Unassigned")
    )

    def __init__(self, *args, branch, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_staff(branch)
        self.fields["assignee"].widget.attrs["class"] = "form-select form-select-sm"


class BulkReassignForm(forms.Form):
    """Whom to give the ticked tasks to: a person, or ``none`` (back to unassigned). The
    first option is a prompt, so a click on 重新指派 with nothing chosen changes nothing."""

    assignee = forms.CharField(label=_("Give to"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.staff = {str(u.pk): u for u in staff_for(user)}
        self.choices = [
            ("", _("Choose a person")),
            *((pk, StaffChoiceField.label_from_instance(None, u)) for pk, u in self.staff.items()),
        ]

    def clean_assignee(self):
        value = self.cleaned_data["assignee"]
        if value == UNASSIGNED:
            return None
        if value not in self.staff:
            raise forms.ValidationError(_("Choose a person."))
        return self.staff[value]

    def task_ids(self) -> list[int]:
        """The ticked tasks' ids (``tasks``, many): ASCII digits only, at most 500."""
        from clinic.params import parse_int

        raw = self.data.getlist("tasks") if hasattr(self.data, "getlist") else []
        return [v for v in (parse_int(r) for r in raw[:500]) if v is not None]


class SmsForm(forms.Form):
    template = forms.ChoiceField(label=_("Message"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [(t.key, t.name or t.key) for t in sms_templates()]
        self.fields["template"].widget.attrs["class"] = "form-select form-select-sm"


class CloseForm(forms.Form):
    reason = ShortTextField(label=_("Why close it"), max_length=200)
