"""Thin views of the stock pages: bind the form, call one service, map InventoryError to a
form error, redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.errors import DomainError

from . import exports, selectors, services
from .forms import OutForm, ReceiveForm, ReorderLevelForm, StockFilterForm, StockTakeForm, TransferForm
from .models import StockBalance

VIEW = "inventory.view_stockbalance"
MANAGE = "inventory.manage_stock"
REPORTS = "inventory.view_stock_reports"


def _branch(request: HttpRequest):
    if request.branch is None:
        raise Http404
    return request.branch


def _form_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@require_GET
@permission_required(VIEW, raise_exception=True)
def stock_list(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    form = StockFilterForm(request.GET or None)
    q = kind = only = ""
    if form.is_valid():
        q, kind, only = form.cleaned_data["q"], form.cleaned_data["kind"], form.cleaned_data["only"]
    rows = selectors.stock_rows(request.user, branch, query=q, kind=kind, only=only)
    return render(request, "inventory/stock.html", {"form": form, "rows": rows, "branch": branch})


def _item_page(request: HttpRequest, item, level_form=None) -> HttpResponse:
    balances = selectors.balances_for(request.user, item=item)
    page = Paginator(selectors.movements_for(request.user, item=item), 50).get_page(request.GET.get("page"))
    context = {"item": item, "balances": balances, "page": page, "today": timezone.localdate()}
    if request.branch is not None:
        own, context["level_in_force"] = selectors.branch_reorder_level(item, request.branch)
        context["own_level"] = own
        if request.user.has_perm(MANAGE):
            context["level_form"] = level_form or ReorderLevelForm(initial={"level": own})
    return render(request, "inventory/item.html", context, status=400 if level_form is not None else 200)


@require_GET
@permission_required(VIEW, raise_exception=True)
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _item_page(request, selectors.get_item_for_user(request.user, pk))


@require_POST
@permission_required(MANAGE, raise_exception=True)
def reorder_level(request: HttpRequest, pk: int) -> HttpResponse:
    branch = _branch(request)
    item = selectors.get_item_for_user(request.user, pk)
    form = ReorderLevelForm(request.POST)
    if form.is_valid():
        try:
            level = services.reorder_level_set(
                actor=request.user, branch=branch, item=item, level=form.cleaned_data["level"]
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                _("Reorder level at %(branch)s: %(level)d %(unit)s.")
                % {"branch": branch.display_name, "level": level, "unit": item.unit},
            )
            return redirect("inventory:item", pk=item.pk)
    return _item_page(request, item, level_form=form)


@require_GET
@permission_required(VIEW, raise_exception=True)
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.get_batch_for_user(request.user, pk)
    balances = selectors.balances_for(request.user, batch=batch)
    page = Paginator(selectors.movements_for(request.user, batch=batch), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "inventory/batch.html",
        {"batch": batch, "balances": balances, "page": page, "expired": services.is_expired(batch)},
    )


def _done(request, movement) -> HttpResponse:
    messages.success(request, _("Recorded: %(what)s.") % {"what": movement})
    return redirect("inventory:batch", pk=movement.batch_id)


@permission_required(MANAGE, raise_exception=True)
def receive(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    form = ReceiveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            movement = services.stock_receive(actor=request.user, branch=branch, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return _done(request, movement)
    return render(
        request, "inventory/form.html", {"form": form, "title": _("Receive stock"), "branch": branch}
    )


@permission_required(MANAGE, raise_exception=True)
def transfer(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    form = TransferForm(request.POST or None, branch=branch, initial={"batch": request.GET.get("batch")})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            out, _into = services.stock_transfer(
                actor=request.user,
                batch=d["batch"],
                from_branch=branch,
                to_branch=d["to_branch"],
                quantity=d["quantity"],
                reason=d["reason"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return _done(request, out)
    return render(
        request, "inventory/form.html", {"form": form, "title": _("Transfer stock"), "branch": branch}
    )


def _out_view(request: HttpRequest, service, title) -> HttpResponse:
    branch = _branch(request)
    form = OutForm(request.POST or None, branch=branch, initial={"batch": request.GET.get("batch")})
    if request.method == "POST" and form.is_valid():
        try:
            movement = service(actor=request.user, branch=branch, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return _done(request, movement)
    return render(request, "inventory/form.html", {"form": form, "title": title, "branch": branch})


@permission_required(MANAGE, raise_exception=True)
def write_off(request: HttpRequest) -> HttpResponse:
    return _out_view(request, services.stock_write_off, _("Write off stock"))


@permission_required(MANAGE, raise_exception=True)
def return_supplier(request: HttpRequest) -> HttpResponse:
    return _out_view(request, services.stock_return_to_supplier, _("Return to supplier"))


@permission_required(MANAGE, raise_exception=True)
def stock_take(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    balances = list(
        StockBalance.objects.filter(branch=branch)
        .exclude(quantity=0, batch__expiry_date__lt=timezone.localdate())
        .select_related("batch__item")
        .order_by("batch__item__code", "batch__expiry_date")
    )
    form = StockTakeForm(request.POST or None, balances=balances)
    if request.method == "POST" and form.is_valid():
        try:
            moves = services.stock_take(
                actor=request.user, branch=branch, counts=form.counts(), reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Stock-take recorded: %(n)d corrections.") % {"n": len(moves)})
            return redirect("inventory:stock")
    return render(request, "inventory/stock_take.html", {"form": form, "branch": branch})


@require_GET
@permission_required(REPORTS, raise_exception=True)
def reports(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    user = request.user
    data = {
        "value": selectors.stock_value(user, branch),
        "usage": selectors.usage_by_service(user, branch),
        "waste": selectors.waste_from_expiry(user, branch),
        "reorder": selectors.reorder_suggestions(user, branch),
    }
    if request.GET.get("format") == "xlsx":
        return exports.workbook_response(actor=user, branch=branch, report="inventory", sheets=_sheets(data))
    data["value_total"] = sum((r["value"] or 0 for r in data["value"]), 0)
    return render(request, "inventory/reports.html", {"branch": branch, **data})


def _sheets(data):
    yield (
        _("Stock value"),
        [_("Branch"), _("Code"), _("Item"), _("Units"), _("Value (CNY)")],
        [
            [r["branch__name"], r["batch__item__code"], r["batch__item__name"], r["units"], r["value"]]
            for r in data["value"]
        ],
    )
    yield (
        _("Usage per service"),
        [_("Service"), _("Code"), _("Item"), _("Units"), _("Cost (CNY)")],
        [
            [
                r["service_item__name"] or _("Not on a visit"),
                r["batch__item__code"],
                r["batch__item__name"],
                r["units"],
                r["cost"],
            ]
            for r in data["usage"]
        ],
    )
    yield (
        _("Waste from expiry"),
        [_("Branch"), _("Code"), _("Item"), _("Lot number"), _("Expiry date"), _("Units"), _("Cost (CNY)")],
        [
            [
                r["branch__name"],
                r["batch__item__code"],
                r["batch__item__name"],
                r["batch__lot_number"],
                r["batch__expiry_date"],
                r["units"],
                r["cost"],
            ]
            for r in data["waste"]
        ],
    )
    yield (
        _("Reorder suggestions"),
        [
            _("Branch"),
            _("Code"),
            _("Item"),
            _("Used in 90 days"),
            _("On hand"),
            _("Reorder level"),
            _("Suggested order"),
        ],
        [
            [s.branch.name, s.item.code, s.item.name, s.used_90, s.on_hand, s.reorder_level, s.suggested]
            for s in data["reorder"]
        ],
    )
