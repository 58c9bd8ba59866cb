"""Staff screens of stored value (储值): the member's tab (balance, history, top-up and refund
forms) and the liability report. Thin views that call one service each."""

from __future__ import annotations

from functools import cached_property

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.money import format_cny
from members.selectors import get_member_for_user

from . import services
from .errors import LoyaltyError
from .forms import LiabilityForm, StoredValueRefundForm, StoredValueTopUpForm
from .selectors import source_url, stored_value_account, stored_value_history, stored_value_liability

HISTORY_ON_TAB = 20


class StoredValuePanel:
    """The tab's data, computed only when the tab is rendered."""

    def __init__(self, member, user):
        self.member, self.user = member, user

    @cached_property
    def account(self):
        return stored_value_account(self.member)

    @cached_property
    def history(self):
        return _with_links(stored_value_history(self.member)[:HISTORY_ON_TAB])

    @property
    def can_top_up(self) -> bool:
        return self.member.is_active and self.user.has_perm("loyalty.top_up_stored_value")

    @property
    def can_refund(self) -> bool:
        return bool(
            self.account
            and self.account.paid_balance > 0
            and self.member.is_active
            and self.user.has_perm("loyalty.refund_stored_value")
        )

    @cached_property
    def top_up_form(self):
        return StoredValueTopUpForm(auto_id="sv-top-up-%s")

    @cached_property
    def refund_form(self):
        return StoredValueRefundForm(auto_id="sv-refund-%s")

    @cached_property
    def rules(self):
        from .models import StoredValueBonusRule

        today = timezone.localdate()
        return [
            r
            for r in StoredValueBonusRule.objects.filter(is_active=True).order_by("threshold")
            if (r.valid_from is None or r.valid_from <= today)
            and (r.valid_until is None or today <= r.valid_until)
        ]


def _with_links(entries) -> list:
    entries = list(entries)
    for entry in entries:
        entry.source_url = source_url(entry.source_key)
    return entries


def tab_context(member, user) -> dict:
    return {"panel": StoredValuePanel(member, user)}


def _back(pk: int) -> HttpResponse:
    return redirect(reverse("members:detail", args=[pk]) + "?tab=stored_value")


def _errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _domain_error(request: HttpRequest, exc: LoyaltyError) -> None:
    if exc.code == "forbidden":
        raise PermissionDenied from exc
    messages.error(request, exc.message)


@require_GET
def stored_value(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, perm="loyalty.view_storedvalueaccount")
    page = Paginator(stored_value_history(member), 50).get_page(request.GET.get("page"))
    page.object_list = _with_links(page.object_list)
    context = {"member": member, "page": page}
    return render(request, "loyalty/stored_value.html", context)


@require_POST
def top_up(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, write=True, perm="loyalty.top_up_stored_value")
    form = StoredValueTopUpForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return _back(pk)
    data = form.cleaned_data
    try:
        entry = services.stored_value_top_up(
            actor=request.user,
            member=member,
            amount=data["amount"],
            method=data["method"],
            reference=data["reference"],
            idempotency_key=f"top_up:{data['token']}",
            branch=request.branch or member.branch,
        )
    except LoyaltyError as exc:
        _domain_error(request, exc)
    else:
        messages.success(
            request,
            _("Topped up %(paid)s (bonus %(bonus)s). Balance now %(balance)s.")
            % {
                "paid": format_cny(entry.paid),
                "bonus": format_cny(entry.bonus),
                "balance": format_cny(entry.paid_after + entry.bonus_after),
            },
        )
    return _back(pk)


@require_POST
def refund(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, write=True, perm="loyalty.refund_stored_value")
    form = StoredValueRefundForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return _back(pk)
    data = form.cleaned_data
    try:
        entry = services.stored_value_refund(
            actor=request.user,
            member=member,
            amount=data["amount"],
            method=data["method"],
            reason=data["reason"],
            idempotency_key=f"refund:{data['token']}",
            branch=request.branch or member.branch,
        )
    except LoyaltyError as exc:
        _domain_error(request, exc)
    else:
        messages.success(
            request,
            _("Refunded %(paid)s to the member; bonus forfeited %(bonus)s.")
            % {"paid": format_cny(-entry.paid), "bonus": format_cny(-entry.bonus)},
        )
    return _back(pk)


@require_GET
def liability(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("loyalty.view_stored_value_report"):
        raise PermissionDenied
    form = LiabilityForm(request.GET or None)
    as_of = timezone.localdate()
    if form.is_valid() and form.cleaned_data["as_of"]:
        as_of = form.cleaned_data["as_of"]
    if request.GET.get("format") == "xlsx" and not form.errors:
        try:
            data = services.stored_value_liability_xlsx(actor=request.user, as_of=as_of)
        except LoyaltyError as exc:
            raise PermissionDenied from exc
        response = HttpResponse(
            data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response["Content-Disposition"] = f'attachment; filename="stored-value-{as_of.isoformat()}.xlsx"'
        return response
    rows = stored_value_liability(request.user, as_of=as_of)
    totals = {
        "accounts": sum(r.accounts for r in rows),
        "paid": sum((r.paid for r in rows), 0),
        "bonus": sum((r.bonus for r in rows), 0),
        "total": sum((r.total for r in rows), 0),
    }
    context = {
        "form": form,
        "as_of": as_of,
        "rows": rows,
        "totals": totals,
        "can_export": request.user.has_perm("clinic.export_data"),
    }
    return render(request, "loyalty/stored_value_liability.html", context)
