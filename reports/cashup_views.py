"""The end-of-day cash-up page (thin views over reports.cashup): the day's sheet, the
cashier's count of their own shift, the manager's sign-off, a printable page and a PDF.
Scoped to the active branch, as the dashboard is."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from clinic import pdf
from clinic.fields import ShortTextField

from . import cashup
from .cashup_models import Shift


class CountForm(forms.Form):
    shift = forms.ChoiceField(label=gettext_lazy("Shift"), choices=Shift.choices)
    # A text field, not a DecimalField: the service gives the one clear message for every
    # bad amount (negative, letters, three decimals) in both languages.
    counted = forms.CharField(
        label=gettext_lazy("Cash counted (without the float)"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    note = ShortTextField(label=gettext_lazy("Note"), max_length=200, required=False)


class SignOffForm(forms.Form):
    note = ShortTextField(label=gettext_lazy("Note"), max_length=200, required=False)


def _branch(request: HttpRequest):
    if request.branch is None:
        raise PermissionDenied
    return request.branch


def _day(request: HttpRequest, source) -> tuple[dt.date, str | None]:
    """The day asked for (``?day=YYYY-MM-DD``), else today, with the reason it was refused."""
    today = timezone.localdate()
    raw = (source.get("day") or "").strip()
    if not raw:
        return today, None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return today, _("That is not a date; showing today.")
    if day > today:
        return today, _("That day has not happened yet; showing today.")
    if day.year < 2000:
        return today, _("That is not a date; showing today.")
    return day, None


def _url(day: dt.date) -> str:
    return f"{reverse('reports:cashup')}?day={day.isoformat()}"


def _context(request, branch, day: dt.date, **extra) -> dict:
    summary = cashup.day_summary(branch, day)
    mine = [r for r in summary.rows if r.cashier_id == request.user.pk]
    shift_now = cashup.shift_of(timezone.now()) if day == timezone.localdate() else Shift.EVENING
    return {
        "branch": branch,
        "day": day,
        "s": summary,
        "mine": mine,
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1) if day < timezone.localdate() else None,
        "count_form": extra.pop("count_form", None) or CountForm(initial={"shift": shift_now}),
        "sign_form": extra.pop("sign_form", None) or SignOffForm(prefix="sign"),
        "can_count": request.user.has_perm(cashup.COUNT_PERM) and summary.sign_off is None,
        "can_sign": request.user.has_perm(cashup.SIGN_PERM) and summary.sign_off is None,
        "split": cashup.shift_split(),
        **extra,
    }


@require_GET
@permission_required(cashup.VIEW_PERM, raise_exception=True)
def cashup_day(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    day, problem = _day(request, request.GET)
    if problem:
        messages.warning(request, problem)
    context = _context(request, branch, day)
    if request.GET.get("format") == "pdf":
        body = pdf.render("reports/cashup_pdf.html", "reports/cashup_pdf.css", context, request)
        if body is not None:
            response = HttpResponse(body, content_type="application/pdf")
            response["Content-Disposition"] = f'inline; filename="cashup-{branch.code}-{day.isoformat()}.pdf"'
            return response
    return render(request, "reports/cashup.html", context)


@require_POST
@permission_required(cashup.COUNT_PERM, raise_exception=True)
def cashup_count(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    day, problem = _day(request, request.POST)
    form = CountForm(request.POST)
    if problem:
        messages.error(request, _("Choose a day that has happened to count its cash."))
        return redirect(_url(day))
    if form.is_valid():
        try:
            count = cashup.cash_count_record(
                actor=request.user,
                branch=branch,
                day=day,
                shift=form.cleaned_data["shift"],
                counted=form.cleaned_data["counted"],
                note=form.cleaned_data["note"],
            )
        except cashup.CashupError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            diff = count.counted - count.expected
            messages.success(
                request,
                _("Count saved: %(counted)s counted against %(expected)s expected (difference %(diff)s).")
                % {
                    "counted": cashup.format_cny(count.counted),
                    "expected": cashup.format_cny(count.expected),
                    "diff": cashup.format_cny(diff),
                },
            )
            return redirect(_url(day))
    return render(request, "reports/cashup.html", _context(request, branch, day, count_form=form), status=400)


@require_POST
@permission_required(cashup.SIGN_PERM, raise_exception=True)
def cashup_sign_off(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    day, problem = _day(request, request.POST)
    if problem:
        messages.error(request, _("Choose a day that has happened to sign it off."))
        return redirect(_url(day))
    form = SignOffForm(request.POST, prefix="sign")
    if form.is_valid():
        try:
            cashup.day_sign_off(actor=request.user, branch=branch, day=day, note=form.cleaned_data["note"])
        except cashup.CashupError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The day is signed off; its counts are locked."))
        return redirect(_url(day))
    return render(request, "reports/cashup.html", _context(request, branch, day, sign_form=form), status=400)
