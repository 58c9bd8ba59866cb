"""Drugs, devices, consumables and implants (layer 3, DESIGN.md §2): items, their batches,
and the stock per branch as an append-only ledger of movements with a cached balance per
(branch, batch) that the database keeps from going negative."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clinic.models import Branch, LocalizedNameMixin, ServiceItem, code_validator


class ItemKind(models.TextChoices):
    DRUG = "drug", _("Drug")
    DEVICE = "device", _("Device")
    CONSUMABLE = "consumable", _("Consumable")
    IMPLANT = "implant", _("Implant")


class Item(LocalizedNameMixin):
    """A stocked thing. Quantities are whole units of ``unit`` (支, 盒, 颗…)."""

    code = models.CharField(_("code"), max_length=16, unique=True, validators=[code_validator])
    kind = models.CharField(_("kind"), max_length=12, choices=ItemKind.choices)
    unit = models.CharField(pgettext_lazy("stock unit", "unit"), max_length=16)
    specification = models.CharField(_("specification"), max_length=100, blank=True)
    default_reorder_level = models.PositiveIntegerField(
        _("default reorder level"),
        default=0,
        help_text=_("Below this many units a branch is warned, unless the branch has its own level."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("stock item")
        verbose_name_plural = _("stock items")
        permissions = [
            ("manage_stock", _("Receive, transfer, return, write off and count stock")),
            ("use_stock", _("Record the materials used on a visit")),
            ("view_stock_reports", _("See the stock reports")),
        ]

    @property
    def recorded_on_patient(self) -> bool:
        """An implant's batch goes on the patient's record (traceability)."""
        return self.kind == ItemKind.IMPLANT


class ReorderLevel(models.Model):
    """A branch's own reorder level for an item (else the item's default)."""

    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="reorder_levels", verbose_name=_("item")
    )
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+", verbose_name=_("branch"))
    level = models.PositiveIntegerField(_("reorder level"))

    class Meta:
        verbose_name = _("reorder level")
        verbose_name_plural = _("reorder levels")
        constraints = [
            models.UniqueConstraint(fields=["item", "branch"], name="reorder_level_one_per_branch")
        ]

    def __str__(self) -> str:
        return f"{self.item} @ {self.branch}: {self.level}"


class Batch(models.Model):
    """One lot of an item from a supplier. Shared by the branches (a transfer moves units of
    the same batch); the stock of each branch is in ``StockBalance``."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="batches", verbose_name=_("item"))
    lot_number = models.CharField(_("lot number"), max_length=40)
    expiry_date = models.DateField(_("expiry date"))
    supplier = models.CharField(_("supplier"), max_length=100)
    unit_cost = models.DecimalField(
        _("unit cost (CNY)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    created_at = models.DateTimeField(_("received first at"), auto_now_add=True)

    class Meta:
        ordering = ["expiry_date", "id"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        constraints = [
            models.UniqueConstraint(fields=["item", "lot_number"], name="batch_lot_unique_per_item"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="batch_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.lot_number}"


class StockBalance(models.Model):
    """The cached stock of one batch at one branch: changed only by the ledger service,
    under ``select_for_update`` with ``F()``; the CHECK keeps it from going negative even if
    a caller forgot the lock."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="balances", verbose_name=_("batch")
    )
    quantity = models.IntegerField(_("on hand"), default=0)

    class Meta:
        verbose_name = _("stock balance")
        verbose_name_plural = _("stock balances")
        constraints = [
            models.UniqueConstraint(fields=["branch", "batch"], name="stock_balance_one_per_batch"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="stock_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} @ {self.branch}: {self.quantity}"


class MovementKind(models.TextChoices):
    RECEIVE = "receive", pgettext_lazy("stock movement", "Received")
    USE = "use", _("Used on a visit")
    TRANSFER_OUT = "transfer_out", _("Transferred out")
    TRANSFER_IN = "transfer_in", _("Transferred in")
    RETURN_SUPPLIER = "return_supplier", _("Returned to supplier")
    WRITE_OFF = "write_off", _("Written off")
    COUNT = "count", _("Stock-take correction")
    VOID_RETURN = "void_return", _("Returned from a voided visit")


class Movement(models.Model):
    """One append-only row of the stock ledger (signed quantity: + in, − out). A correction
    is a new row, never an edit. ``charge_line_id`` / ``visit_id`` name the visit line a use
    was for, as plain ids: appointments is above this app and holds the link
    (``ChargeLineMaterial``)."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="movements", verbose_name=_("batch")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=MovementKind.choices)
    quantity = models.IntegerField(_("quantity"))
    at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    service_item = models.ForeignKey(
        ServiceItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
    )
    visit_id = models.BigIntegerField(_("visit"), null=True, blank=True)
    charge_line_id = models.BigIntegerField(_("charge line"), null=True, blank=True)
    counterpart = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("other half of the transfer"),
    )
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        indexes = [
            models.Index(fields=["branch", "batch", "at"], name="movement_branch_batch_at"),
            models.Index(fields=["kind", "at"], name="movement_kind_at"),
            models.Index(fields=["charge_line_id"], name="movement_charge_line"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="movement_quantity_not_zero")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.batch} {self.quantity:+d}"


class ServiceMaterialDefault(models.Model):
    """What one unit of a catalogue service uses by default (洁牙: gloves, a polishing cup…).
    Copied onto a charge line when the line is added, and editable on the visit."""

    service = models.ForeignKey(
        ServiceItem, on_delete=models.CASCADE, related_name="+", verbose_name=_("service")
    )
    item = models.ForeignKey(
        Item, on_delete=models.PROTECT, related_name="service_defaults", verbose_name=_("item")
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["service", "item"]
        verbose_name = _("default material of a service")
        verbose_name_plural = _("default materials of services")
        constraints = [
            models.UniqueConstraint(fields=["service", "item"], name="service_material_once"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="service_material_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.service} → {self.item} ×{self.quantity}"
