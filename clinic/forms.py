from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .fields import ShortTextField
from .models import ServiceCategory


class CatalogSearchForm(forms.Form):
    q = ShortTextField(label=_("Search"), required=False, max_length=50)
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=ServiceCategory.objects.none(),
        required=False,
        empty_label=_("All categories"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = ServiceCategory.objects.filter(is_active=True)
        self.fields["q"].widget.attrs.update(
            {
                "placeholder": _("Code or name, e.g. 洁牙"),
                "autocomplete": "off",
                "class": "form-control",
            }
        )
        self.fields["q"].widget.input_type = "search"
        self.fields["category"].widget.attrs.update({"class": "form-select"})


class BranchSwitchForm(forms.Form):
    branch = forms.IntegerField(min_value=1)
    next = ShortTextField(required=False, max_length=500)


class TwoFactorTokenForm(forms.Form):
    """A code from the authenticator app (6 digits) or a backup code (8 characters)."""

    token = ShortTextField(
        label=_("Verification code"),
        max_length=16,
        help_text=_("The 6 digits your authenticator app shows, or one of your backup codes."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["token"].widget.attrs.update(
            {"class": "form-control", "autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        )
