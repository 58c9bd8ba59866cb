"""Reads of the stock, scoped to the user's branches: the stock list, an item's and a
batch's pages, the alerts (near expiry, below reorder level) and the stock reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from clinic.models import Branch
from clinic.selectors import user_branch_ids

from .models import Batch, Item, ItemKind, Movement, MovementKind, ReorderLevel, StockBalance

VIEW_PERM = "inventory.view_stockbalance"
MANAGE_PERM = "inventory.manage_stock"
REPORTS_PERM = "inventory.view_stock_reports"
EXPIRY_WINDOWS = (30, 60, 90)


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


def _branch_ids(user, branch: Branch | None) -> list[int] | None:
    ids = user_branch_ids(user)
    if branch is not None:
        if ids is not None and branch.pk not in ids:
            raise Http404
        return [branch.pk]
    return None if ids is None else list(ids)


def expiry_band(expiry: dt.date, today: dt.date) -> int | None:
    """0 when expired, else the smallest window (30 / 60 / 90 days) it falls in, else None."""
    if expiry < today:
        return 0
    days = (expiry - today).days
    for window in EXPIRY_WINDOWS:
        if days <= window:
            return window
    return None


def reorder_level_expr(branch_id_ref):
    own = ReorderLevel.objects.filter(item=OuterRef("pk"), branch_id=branch_id_ref).values("level")[:1]
    return Coalesce(Subquery(own), F("default_reorder_level"))


def branch_reorder_level(item: Item, branch) -> tuple[int | None, int]:
    """The branch's own reorder level for ``item`` (None when it has none) and the level in
    force (the own one, else the item's default)."""
    own = ReorderLevel.objects.filter(item=item, branch=branch).values_list("level", flat=True).first()
    return own, item.default_reorder_level if own is None else own


@dataclass
class StockRow:
    item: Item
    on_hand: int
    reorder_level: int
    nearest_expiry: dt.date | None
    band: int | None
    value: Decimal

    @property
    def low(self) -> bool:
        return self.reorder_level > 0 and self.on_hand < self.reorder_level


def stock_rows(
    user, branch: Branch, *, query: str = "", kind: str = "", only: str = "", today: dt.date | None = None
) -> list[StockRow]:
    """One row per active item at ``branch``: units on hand (in date or not), the reorder
    level, the nearest expiry of a batch in stock, its band and the stock's value at cost."""
    _require(user, VIEW_PERM)
    _branch_ids(user, branch)
    today = today or timezone.localdate()
    in_stock = StockBalance.objects.filter(branch=branch, batch__item=OuterRef("pk"), quantity__gt=0)
    qs = Item.objects.filter(is_active=True).annotate(
        on_hand=Coalesce(
            Subquery(in_stock.values("batch__item").annotate(t=Sum("quantity")).values("t")[:1]),
            Value(0),
            output_field=IntegerField(),
        ),
        value=Coalesce(
            Subquery(
                in_stock.values("batch__item")
                .annotate(t=Sum(F("quantity") * F("batch__unit_cost"), output_field=DecimalField()))
                .values("t")[:1]
            ),
            Value(Decimal("0")),
            output_field=DecimalField(),
        ),
        nearest=Subquery(in_stock.order_by("batch__expiry_date").values("batch__expiry_date")[:1]),
        level=reorder_level_expr(branch.pk),
    )
    if query:
        qs = qs.filter(
            Q(code__icontains=query)
            | Q(name__icontains=query)
            | Q(name_en__icontains=query)
            | Q(batches__lot_number__icontains=query)
        ).distinct()
    if kind in ItemKind.values:
        qs = qs.filter(kind=kind)
    rows = [
        StockRow(
            item=i,
            on_hand=i.on_hand,
            reorder_level=i.level or 0,
            nearest_expiry=i.nearest,
            band=expiry_band(i.nearest, today) if i.nearest else None,
            value=i.value,
        )
        for i in qs.order_by("kind", "code")
    ]
    if only == "low":
        rows = [r for r in rows if r.low]
    elif only == "expiry":
        rows = [r for r in rows if r.band is not None]
    return rows


def get_item_for_user(user, pk: int) -> Item:
    _require(user, VIEW_PERM)
    item = Item.objects.filter(pk=pk).first()
    if item is None:
        raise Http404
    return item


def get_batch_for_user(user, pk: int) -> Batch:
    _require(user, VIEW_PERM)
    batch = Batch.objects.select_related("item").filter(pk=pk).first()
    if batch is None:
        raise Http404
    ids = user_branch_ids(user)
    if ids is not None and not Movement.objects.filter(batch=batch, branch_id__in=ids).exists():
        raise Http404  # never stocked at the user's branches
    return batch


def balances_for(user, *, item: Item | None = None, batch: Batch | None = None) -> QuerySet[StockBalance]:
    qs = StockBalance.objects.select_related("branch", "batch__item")
    if item is not None:
        qs = qs.filter(batch__item=item)
    if batch is not None:
        qs = qs.filter(batch=batch)
    ids = user_branch_ids(user)
    if ids is not None:
        qs = qs.filter(branch_id__in=ids)
    return qs.order_by("batch__expiry_date", "branch_id")


def movements_for(user, *, item: Item | None = None, batch: Batch | None = None) -> QuerySet[Movement]:
    qs = Movement.objects.select_related("branch", "batch__item", "actor__staff", "service_item")
    if item is not None:
        qs = qs.filter(batch__item=item)
    if batch is not None:
        qs = qs.filter(batch=batch)
    ids = user_branch_ids(user)
    if ids is not None:
        qs = qs.filter(branch_id__in=ids)
    return qs.order_by("-at", "-id")


def usable_balances(branch: Branch, today: dt.date | None = None) -> QuerySet[StockBalance]:
    return (
        StockBalance.objects.filter(branch=branch, quantity__gt=0)
        .select_related("batch__item")
        .order_by("batch__item__kind", "batch__item__code", "batch__expiry_date")
    )


# --- alerts ------------------------------------------------------------------------------------


@dataclass
class Alerts:
    branch: Branch
    expiring: list[StockBalance] = field(default_factory=list)  # annotated .band, .days_left
    low: list[StockRow] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.expiring) + len(self.low)


def branch_alerts(branch: Branch, today: dt.date | None = None) -> Alerts:
    """Batches in stock that expired or expire within 90 days, and items below their reorder
    level (an item with no level set is never "low")."""
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=EXPIRY_WINDOWS[-1])
    expiring = list(
        StockBalance.objects.filter(branch=branch, quantity__gt=0, batch__expiry_date__lte=horizon)
        .select_related("batch__item")
        .order_by("batch__expiry_date", "batch_id")
    )
    for row in expiring:
        row.band = expiry_band(row.batch.expiry_date, today)
        row.days_left = (row.batch.expiry_date - today).days
    usable = StockBalance.objects.filter(
        branch=branch, batch__item=OuterRef("pk"), quantity__gt=0, batch__expiry_date__gte=today
    )
    items = (
        Item.objects.filter(is_active=True)
        .annotate(
            level=reorder_level_expr(branch.pk),
            on_hand=Coalesce(
                Subquery(usable.values("batch__item").annotate(t=Sum("quantity")).values("t")[:1]),
                Value(0),
                output_field=IntegerField(),
            ),
        )
        .filter(level__gt=0, on_hand__lt=F("level"))
        .order_by("kind", "code")
    )
    low = [
        StockRow(
            item=i, on_hand=i.on_hand, reorder_level=i.level, nearest_expiry=None, band=None, value=Decimal(0)
        )
        for i in items
    ]
    return Alerts(branch=branch, expiring=expiring, low=low)


# --- reports -----------------------------------------------------------------------------------


def report_branch_ids(user, branch: Branch | None) -> list[int] | None:
    _require(user, REPORTS_PERM)
    return _branch_ids(user, branch)


def _scoped(qs, ids, path="branch_id"):
    return qs if ids is None else qs.filter(**{f"{path}__in": ids})


def stock_value(user, branch: Branch | None = None) -> list[dict]:
    """Units on hand and their value at cost, per branch and item."""
    ids = report_branch_ids(user, branch)
    qs = _scoped(StockBalance.objects.filter(quantity__gt=0), ids)
    return list(
        qs.values("branch__name", "batch__item__code", "batch__item__name", "batch__item__unit")
        .annotate(
            units=Sum("quantity"),
            value=Sum(
                ExpressionWrapper(
                    F("quantity") * F("batch__unit_cost"),
                    output_field=DecimalField(max_digits=12, decimal_places=2),
                )
            ),
        )
        .order_by("branch__name", "batch__item__code")
    )


def _net_use(since: dt.datetime):
    """Uses less their void returns (a voided visit used nothing)."""
    return Movement.objects.filter(kind__in=[MovementKind.USE, MovementKind.VOID_RETURN], at__gte=since)


def usage_by_service(user, branch: Branch | None = None, *, days: int = 90) -> list[dict]:
    ids = report_branch_ids(user, branch)
    since = timezone.now() - dt.timedelta(days=days)
    qs = _scoped(_net_use(since), ids)
    rows = (
        qs.values(
            "service_item__code",
            "service_item__name",
            "batch__item__code",
            "batch__item__name",
            "batch__item__unit",
        )
        .annotate(
            units=Sum(-F("quantity")),
            cost=Sum(
                ExpressionWrapper(
                    -F("quantity") * F("batch__unit_cost"),
                    output_field=DecimalField(max_digits=12, decimal_places=2),
                )
            ),
        )
        .filter(units__gt=0)
        .order_by("service_item__code", "batch__item__code")
    )
    return list(rows)


def waste_from_expiry(user, branch: Branch | None = None, *, days: int = 365) -> list[dict]:
    """Units written off on or after their batch's expiry date, at cost."""
    ids = report_branch_ids(user, branch)
    since = timezone.now() - dt.timedelta(days=days)
    qs = _scoped(Movement.objects.filter(kind=MovementKind.WRITE_OFF, at__gte=since), ids).filter(
        batch__expiry_date__lte=F("at__date")
    )
    return list(
        qs.values(
            "branch__name",
            "batch__item__code",
            "batch__item__name",
            "batch__lot_number",
            "batch__expiry_date",
        )
        .annotate(
            units=Sum(-F("quantity")),
            cost=Sum(
                ExpressionWrapper(
                    -F("quantity") * F("batch__unit_cost"),
                    output_field=DecimalField(max_digits=12, decimal_places=2),
                )
            ),
        )
        .order_by("branch__name", "batch__expiry_date")
    )


@dataclass
class Suggestion:
    branch: Branch
    item: Item
    used_90: int
    on_hand: int
    reorder_level: int
    suggested: int


def reorder_suggestions(
    user, branch: Branch | None = None, *, cover_days: int = 60, today: dt.date | None = None
) -> list[Suggestion]:
    """Per branch and item: usage of the last 90 days, usable units on hand, and what to order
    so that the stock covers ``cover_days`` of that usage and stays above the reorder level.
    Only items that need ordering are listed."""
    ids = report_branch_ids(user, branch)
    today = today or timezone.localdate()
    since = timezone.now() - dt.timedelta(days=90)
    used = {
        (r["branch_id"], r["batch__item_id"]): r["units"]
        for r in _scoped(_net_use(since), ids)
        .values("branch_id", "batch__item_id")
        .annotate(units=Sum(-F("quantity")))
    }
    on_hand = {
        (r["branch_id"], r["batch__item_id"]): r["units"]
        for r in _scoped(StockBalance.objects.filter(quantity__gt=0, batch__expiry_date__gte=today), ids)
        .values("branch_id", "batch__item_id")
        .annotate(units=Sum("quantity"))
    }
    levels = {(r.branch_id, r.item_id): r.level for r in _scoped(ReorderLevel.objects.all(), ids)}
    branches = {b.pk: b for b in _scoped(Branch.objects.filter(is_active=True), ids, "pk")}
    out = []
    for item in Item.objects.filter(is_active=True).order_by("kind", "code"):
        for b_id, b in branches.items():
            key = (b_id, item.pk)
            use = max(used.get(key, 0), 0)
            level = levels.get(key, item.default_reorder_level)
            have = on_hand.get(key, 0)
            target = max(level, -(-use * cover_days // 90))
            if have < target or (level and have < level):
                out.append(Suggestion(b, item, use, have, level, max(target - have, 0)))
    return out
