"""The broadcast form: it checks the shape of the input; the rules are the services'."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clinic.fields import LongTextField, ShortTextField
from clinic.notifications.models import Channel

from .segment_selectors import segments_for_user


class BroadcastForm(forms.Form):
    segment = forms.ModelChoiceField(label=_("Segment"), queryset=None)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.SMS)
    name = ShortTextField(label=_("Broadcast name"), max_length=100)
    subject = ShortTextField(label=_("Subject"), max_length=200, required=False, help_text=_("E-mail only."))
    body = LongTextField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Variables: {name} (the person's name), {branch} (their branch)."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = segments_for_user(user)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)
