from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "autofocus": True}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("SMS code"),
        max_length=8,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
                "pattern": "[0-9]*",
            }
        ),
    )


class ShareRegisterForm(forms.Form):
    """A friend registers themselves from a referral link."""

    name = forms.CharField(
        label=_("Your name"), max_length=50, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    agree = forms.BooleanField(
        label=_("I agree that the clinic keeps my name and phone number to contact me about a first visit."),
        required=True,
    )
    marketing_sms = forms.BooleanField(
        label=_("Also send me offers and events by SMS (optional)."), required=False
    )

    def clean_name(self):
        from clinic.fields import validate_no_hidden_characters

        value = " ".join(self.cleaned_data["name"].split())
        validate_no_hidden_characters(value)
        return value


class ProfileForm(forms.Form):
    email = forms.CharField(
        label=_("E-mail address"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    wechat_id = forms.CharField(label=_("WeChat ID"), max_length=50, required=False)
    address = forms.CharField(
        label=_("Address"),
        max_length=255,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    other_contacts = forms.CharField(label=_("Other contacts"), max_length=200, required=False)
    preferred_channel = forms.ChoiceField(
        label=_("Reach me first by"),
        required=False,
        choices=[
            ("", _("No preference")),
            ("sms", _("SMS")),
            ("wechat", _("WeChat")),
            ("email", _("E-mail")),
        ],
    )

    def __init__(self, *args, member, **kwargs):
        initial = {name: getattr(member, name) for name in self.base_fields}
        super().__init__(*args, initial=initial, **kwargs)

    def clean(self):
        from clinic.fields import validate_no_hidden_characters

        data = super().clean()
        for name in ("email", "wechat_id", "address", "other_contacts"):
            if name in data:
                data[name] = " ".join((data[name] or "").split())
                try:
                    validate_no_hidden_characters(data[name])
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
        if data.get("preferred_channel") == "wechat" and not data.get("wechat_id"):
            self.add_error("preferred_channel", _("Enter your WeChat ID to be reached by WeChat."))
        if data.get("preferred_channel") == "email" and not data.get("email"):
            self.add_error("preferred_channel", _("Enter your e-mail address to be reached by e-mail."))
        return data
