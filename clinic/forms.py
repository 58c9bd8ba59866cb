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
