"""Admin: HQ keeps the items, their default materials per service and reorder levels; the
ledger and the balances are read-only (every movement is a service of the stock pages)."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin, BranchScopedAdmin, BranchScopedReadOnlyAdmin, ClinicTabularInline

from .models import Batch, Item, Movement, ReorderLevel, ServiceMaterialDefault, StockBalance


class ReorderLevelInline(ClinicTabularInline):
    model = ReorderLevel
    extra = 0


@admin.register(Item)
class ItemAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "unit", "default_reorder_level", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name", "name_en"]
    inlines = [ReorderLevelInline]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Batch)
class BatchAdmin(AuditedAdmin):
    list_display = ["item", "lot_number", "expiry_date", "supplier", "unit_cost"]
    list_filter = ["item__kind"]
    search_fields = ["lot_number", "item__code", "item__name", "supplier"]
    list_select_related = ["item"]
    readonly_fields = ["item", "lot_number", "expiry_date"]

    def has_add_permission(self, request):
        return False  # a batch comes in through the receive page (a movement)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReorderLevel)
class ReorderLevelAdmin(BranchScopedAdmin):
    list_display = ["item", "branch", "level"]
    list_filter = ["branch"]
    list_select_related = ["item", "branch"]


@admin.register(ServiceMaterialDefault)
class ServiceMaterialDefaultAdmin(AuditedAdmin):
    list_display = ["service", "item", "quantity"]
    search_fields = ["service__code", "service__name", "item__code", "item__name"]
    list_select_related = ["service", "item"]


@admin.register(StockBalance)
class StockBalanceAdmin(BranchScopedReadOnlyAdmin):
    list_display = ["batch", "branch", "quantity"]
    list_filter = ["branch"]
    list_select_related = ["batch__item", "branch"]


@admin.register(Movement)
class MovementAdmin(BranchScopedReadOnlyAdmin):
    list_display = ["at", "branch", "batch", "kind", "quantity", "actor"]
    list_filter = ["kind", "branch"]
    search_fields = ["batch__lot_number", "batch__item__code"]
    list_select_related = ["batch__item", "branch", "actor"]
