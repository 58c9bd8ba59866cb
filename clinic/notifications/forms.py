from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clinic.fields import DateField

from .models import Channel, Purpose, Status


class OutboxFilterForm(forms.Form):
    """The list's filters. Shape only: anything invalid is simply not applied."""

    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All statuses")), *Status.choices], required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("All channels")), *Channel.choices], required=False
    )
    purpose = forms.ChoiceField(
        label=_("Purpose"), choices=[("", _("All purposes")), *Purpose.choices], required=False
    )
    date_from = DateField(label=_("From date"), required=False)
    date_to = DateField(label=_("To date"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = (
                "form-select form-select-sm"
                if isinstance(field, forms.ChoiceField)
                else "form-control form-control-sm"
            )
            field.widget.attrs["class"] = css

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}
