"""Forms of the stock pages: the shape of input only; the rules are in ``services``."""

from __future__ import annotations

from django import forms
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.fields import DateField, ShortTextField
from clinic.models import Branch

from .models import Batch, Item, ItemKind, StockBalance


def _styled(form: forms.Form) -> None:
    for f in form.fields.values():
        if isinstance(f.widget, forms.Select):
            f.widget.attrs.setdefault("class", "form-select")


class ItemChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} {obj.display_name}"


class BalanceBatchField(forms.ModelChoiceField):
    """A batch in stock at the branch, labelled with item, lot, expiry and units."""

    def label_from_instance(self, obj) -> str:
        return f"{obj.item.display_name} · {obj.lot_number} · {obj.expiry_date:%Y-%m-%d} · {obj.on_hand} {obj.item.unit}"


def batches_in_stock(branch: Branch):
    return (
        Batch.objects.filter(balances__branch=branch, balances__quantity__gt=0)
        .select_related("item")
        .annotate(on_hand=Sum("balances__quantity", filter=Q(balances__branch=branch)))
        .order_by("item__code", "expiry_date")
    )


class StockFilterForm(forms.Form):
    q = ShortTextField(label=_("Search"), required=False, max_length=50)
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *ItemKind.choices]
    )
    only = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[("", _("All items")), ("low", _("Below reorder level")), ("expiry", _("Near expiry"))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update(
            {"placeholder": _("Code, name or lot"), "autocomplete": "off", "class": "form-control"}
        )
        _styled(self)


class ReceiveForm(forms.Form):
    item = ItemChoiceField(label=_("Item"), queryset=Item.objects.none())
    lot_number = ShortTextField(label=_("Lot number"), max_length=40)
    expiry_date = DateField(label=_("Expiry date"), min_date=timezone.localdate)
    supplier = ShortTextField(label=_("Supplier"), max_length=100)
    unit_cost = forms.DecimalField(label=_("Unit cost (CNY)"), max_digits=12, decimal_places=2, min_value=0)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100_000)
    reason = ShortTextField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].queryset = Item.objects.filter(is_active=True).order_by("kind", "code")
        _styled(self)


class _BatchForm(forms.Form):
    batch = BalanceBatchField(label=_("Batch"), queryset=Batch.objects.none())
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100_000)

    def __init__(self, *args, branch: Branch, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["batch"].queryset = batches_in_stock(branch)
        _styled(self)


class TransferForm(_BatchForm):
    to_branch = forms.ModelChoiceField(label=_("To branch"), queryset=Branch.objects.none())
    reason = ShortTextField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, branch: Branch, **kwargs):
        super().__init__(*args, branch=branch, **kwargs)
        self.fields["to_branch"].queryset = Branch.objects.filter(is_active=True).exclude(pk=branch.pk)
        _styled(self)


class OutForm(_BatchForm):
    """Write-off or return to the supplier."""

    reason = ShortTextField(label=_("Reason"), max_length=200)


class StockTakeForm(forms.Form):
    """One integer field per batch in the books at the branch (``count_<balance id>``)."""

    reason = ShortTextField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, balances: list[StockBalance], **kwargs):
        super().__init__(*args, **kwargs)
        self.balances = balances
        for b in balances:
            self.fields[f"count_{b.batch_id}"] = forms.IntegerField(
                label=f"{b.batch.item.display_name} · {b.batch.lot_number}",
                min_value=0,
                max_value=100_000,
                required=False,
            )

    def bound_rows(self):
        return [(b, self[f"count_{b.batch_id}"]) for b in self.balances]

    def counts(self) -> dict[int, int]:
        return {
            b.batch_id: self.cleaned_data[f"count_{b.batch_id}"]
            for b in self.balances
            if self.cleaned_data.get(f"count_{b.batch_id}") is not None
        }


class ReorderLevelForm(forms.Form):
    """The branch's own reorder level; empty = the item's default."""

    level = forms.IntegerField(
        label=_("Reorder level at this branch"),
        min_value=0,
        max_value=100_000,
        required=False,
        help_text=_("Leave empty to use the item's default."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].widget.attrs.update({"class": "form-control", "inputmode": "numeric"})
