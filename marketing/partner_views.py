"""Referral partner pages for marketing (list, create, edit, contacts, terms), the monthly
statements (screen, xlsx, PDF, settlement) and the partner analysis with its drill-down."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic import pdf as clinic_pdf
from clinic.fields import ShortTextField
from clinic.params import query_int
from clinic.selectors import branches_for_user
from clinic.services import audit_record
from members.exports import XLSX, workbook_bytes

from . import partner_selectors as sel
from . import partners, rebates
from .errors import MarketingError
from .models import PartnerContact, PartnerKind, RebateTerm, StatementStatus
from .partner_forms import ContactForm, PartnerForm, SettleForm, TermForm


class PartnerFilterForm(forms.Form):
    q = ShortTextField(max_length=50, required=False)
    kind = forms.ChoiceField(choices=[("", ""), *PartnerKind.choices], required=False)
    active = forms.ChoiceField(choices=[("", ""), ("1", ""), ("0", "")], required=False)


def _render(request: HttpRequest, template: str, context: dict, section: str) -> HttpResponse:
    return render(request, template, {**context, "section": section})


def _errors_to_form(form, exc: MarketingError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@require_GET
def partner_list(request: HttpRequest) -> HttpResponse:
    form = PartnerFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = sel.partner_list(
        request.user,
        query=filters.get("q", ""),
        kind=filters.get("kind", ""),
        active=filters.get("active", ""),
    )
    context = {"rows": rows[:200], "filters": filters, "kinds": PartnerKind.choices}
    return _render(request, "marketing/partner_list.html", context, "partners")


@require_http_methods(["GET", "POST"])
def partner_create(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("marketing.view_partner") or not request.user.has_perm(
        "marketing.add_partner"
    ):
        raise PermissionDenied
    form = PartnerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            partner = partners.partner_create(
                actor=request.user,
                branch=data.pop("branch"),
                name=data.pop("name"),
                kind=data.pop("kind"),
                **data,
            )
        except MarketingError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("Partner %(name)s created.") % {"name": partner.name})
            return redirect("marketing:partner_detail", pk=partner.pk)
    return _render(request, "marketing/partner_form.html", {"form": form, "partner": None}, "partners")


@require_http_methods(["GET", "POST"])
def partner_edit(request: HttpRequest, pk: int) -> HttpResponse:
    partner = sel.get_partner_for_user(request.user, pk, perm="marketing.change_partner")
    initial = {f: getattr(partner, f) for f in partners.PARTNER_FIELDS}
    form = PartnerForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            partners.partner_update(actor=request.user, partner=partner, **form.cleaned_data)
        except MarketingError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("marketing:partner_detail", pk=partner.pk)
    return _render(request, "marketing/partner_form.html", {"form": form, "partner": partner}, "partners")


@require_GET
def partner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    partner = sel.get_partner_for_user(request.user, pk)
    today = timezone.localdate()
    terms = list(partner.terms.select_related("category").order_by("-valid_from", "-id"))
    for t in terms:
        t.current = t.valid_from <= today and (t.valid_until is None or t.valid_until >= today)
    context = {
        "partner": partner,
        "contacts": partner.contacts.all(),
        "terms": terms,
        "statements": partner.statements.order_by("-month")[:24]
        if request.user.has_perm("marketing.view_statement")
        else [],
        "people": partner.attributions.count(),
        "contact_form": ContactForm(),
        "can_change": request.user.has_perm("marketing.change_partner"),
        "can_add_term": request.user.has_perm("marketing.add_rebateterm"),
        "can_end_term": request.user.has_perm("marketing.change_rebateterm"),
    }
    return _render(request, "marketing/partner_detail.html", context, "partners")


@require_POST
def partner_contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    partner = sel.get_partner_for_user(request.user, pk, perm="marketing.change_partner")
    form = ContactForm(request.POST)
    if form.is_valid():
        partners.partner_contact_add(actor=request.user, partner=partner, **form.cleaned_data)
        messages.success(request, _("Contact added."))
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("marketing:partner_detail", pk=partner.pk)


@require_POST
def partner_contact_remove(request: HttpRequest, pk: int, contact_id: int) -> HttpResponse:
    partner = sel.get_partner_for_user(request.user, pk, perm="marketing.change_partner")
    contact = PartnerContact.objects.filter(partner=partner, pk=contact_id).first()
    if contact is None:
        raise Http404
    partners.partner_contact_remove(actor=request.user, contact=contact)
    messages.success(request, _("Contact removed."))
    return redirect("marketing:partner_detail", pk=partner.pk)


@require_http_methods(["GET", "POST"])
def partner_term_add(request: HttpRequest, pk: int) -> HttpResponse:
    partner = sel.get_partner_for_user(request.user, pk, perm="marketing.add_rebateterm")
    form = TermForm(request.POST or None, initial={"valid_from": timezone.localdate(), "kind": "percent"})
    if request.method == "POST" and form.is_valid():
        try:
            partners.rebate_term_add(actor=request.user, partner=partner, **form.cleaned_data)
        except MarketingError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("Term added."))
            return redirect("marketing:partner_detail", pk=partner.pk)
    return _render(
        request, "marketing/partner_term_form.html", {"form": form, "partner": partner}, "partners"
    )


@require_POST
def partner_term_end(request: HttpRequest, pk: int, term_id: int) -> HttpResponse:
    partner = sel.get_partner_for_user(request.user, pk, perm="marketing.change_rebateterm")
    term = RebateTerm.objects.filter(partner=partner, pk=term_id).first()
    if term is None:
        raise Http404
    try:
        partners.rebate_term_end(actor=request.user, term=term)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The term ends today."))
    return redirect("marketing:partner_detail", pk=partner.pk)


# --- statements -------------------------------------------------------------------------------


def _month_choices(request: HttpRequest):
    month = sel.parse_month(request.GET.get("month"))
    branch_id = query_int(request, "branch")
    branches = list(branches_for_user(request.user))
    if branch_id and branch_id not in {b.pk for b in branches}:
        branch_id = None
    return month, branch_id, branches


@require_GET
def statement_list(request: HttpRequest) -> HttpResponse:
    month, branch_id, branches = _month_choices(request)
    qs = sel.statements_for_user(request.user)
    if month:
        qs = qs.filter(month=month)
    if branch_id:
        qs = qs.filter(partner__branch_id=branch_id)
    status = request.GET.get("status", "")
    if status in StatementStatus.values:
        qs = qs.filter(status=status)
    context = {
        "rows": qs.order_by("-month", "partner__name")[:300],
        "month": month,
        "branch_id": branch_id,
        "branches": branches,
        "status": status if status in StatementStatus.values else "",
        "statuses": StatementStatus.choices,
    }
    return _render(request, "marketing/partner_statements.html", context, "statements")


def _statement_context(request: HttpRequest, statement, *, masked: bool = False) -> dict:
    return {
        "statement": statement,
        "partner": statement.partner,
        "lines": sel.statement_lines(statement, request.user, masked=masked),
        "summary": sel.statement_summary(statement),
        "printed_at": timezone.localtime(),
    }


@require_GET
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement = sel.get_statement_for_user(request.user, pk)
    context = _statement_context(request, statement)
    can_settle = request.user.has_perm(rebates.SETTLE_PERM) and not statement.is_settled
    context.update(
        can_settle=can_settle,
        month_ended=statement.month < rebates.local_month(timezone.now()),
        settle_form=SettleForm(initial={"paid_amount": context["summary"]["total"]}) if can_settle else None,
        can_export=request.user.has_perm("clinic.export_data"),
    )
    return _render(request, "marketing/partner_statement.html", context, "statements")


@require_POST
def statement_settle(request: HttpRequest, pk: int) -> HttpResponse:
    statement = sel.get_statement_for_user(request.user, pk, perm=rebates.SETTLE_PERM)
    form = SettleForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("marketing:statement_detail", pk=statement.pk)
    try:
        rebates.statement_settle(actor=request.user, statement=statement, **form.cleaned_data)
    except MarketingError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Statement settled."))
    return redirect("marketing:statement_detail", pk=statement.pk)


def _export_audit(request, statement, fmt: str) -> None:
    from django.db import transaction

    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="marketing.statement.exported",
            target=statement,
            branch=statement.partner.branch,
            changes={"format": fmt, "month": f"{statement.month:%Y-%m}"},
        )


def _filename(statement, ext: str) -> str:
    return f"rebate-statement-{statement.partner_id}-{statement.month:%Y-%m}.{ext}"


@require_GET
def statement_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    """The statement as it goes to the partner: people always masked (张**)."""
    statement = sel.get_statement_for_user(request.user, pk, perm="clinic.export_data")
    context = _statement_context(request, statement, masked=True)
    header = [_("Date"), _("Person"), _("Services"), _("Kind"), _("Amount collected"), _("Rebate"), _("Note")]
    rows = [
        [
            line.day,
            line.person,
            line.services,
            line.row.get_kind_display(),
            line.row.base,
            line.row.amount,
            _note(line.row),
        ]
        for line in context["lines"]
    ]
    rows.append(["", "", "", _("Total"), "", context["summary"]["total"], ""])
    title = f"{statement.month:%Y-%m}"
    _export_audit(request, statement, "xlsx")
    response = HttpResponse(workbook_bytes([(title, header, rows)]), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{_filename(statement, "xlsx")}"'
    return response


def _note(row) -> str:
    if row.kind == "reversal" and row.reverses_id:
        return _("Reverses the rebate of %(month)s") % {"month": f"{row.reverses.statement.month:%Y-%m}"}
    if row.kind in ("carry_in", "carry_out"):
        return row.note
    return str(row.term) if row.term_id else ""


@require_GET
def statement_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    statement = sel.get_statement_for_user(request.user, pk, perm="clinic.export_data")
    context = _statement_context(request, statement, masked=True)
    for line in context["lines"]:
        line.note = _note(line.row)
    pdf = clinic_pdf.render(
        "marketing/partner_statement_pdf.html", "marketing/statement_pdf.css", context, request
    )
    _export_audit(request, statement, "pdf")
    if pdf is None:
        return HttpResponse(
            render_to_string("marketing/partner_statement_pdf.html", context, request=request)
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{_filename(statement, "pdf")}"'
    return response


# --- analysis ---------------------------------------------------------------------------------


@require_GET
def partner_analysis(request: HttpRequest) -> HttpResponse:
    month, branch_id, branches = _month_choices(request)
    rows = sel.partner_analysis(request.user, branch_id=branch_id, month=month)
    totals = {
        key: sum((getattr(r, key) for r in rows), 0)
        for key in ("sent", "paid", "returned", "revenue", "rebate")
    }
    context = {"rows": rows, "totals": totals, "month": month, "branch_id": branch_id, "branches": branches}
    return _render(request, "marketing/partner_analysis.html", context, "analysis")


STAGE_LABELS = {
    "sent": gettext_lazy("People sent"),
    "paid": gettext_lazy("Paid (a first paid visit)"),
    "returned": gettext_lazy("Returned (a second paid visit)"),
}


@require_GET
def partner_people(request: HttpRequest, pk: int) -> HttpResponse:
    partner = sel.get_partner_for_user(request.user, pk)
    stage = request.GET.get("stage", "sent")
    stage = stage if stage in sel.PEOPLE_STAGES else "sent"
    month = sel.parse_month(request.GET.get("month"))
    context = {
        "partner": partner,
        "rows": sel.partner_people(request.user, partner, stage=stage, month=month),
        "stage": stage,
        "stage_label": STAGE_LABELS[stage],
        "month": month,
    }
    return _render(request, "marketing/partner_people.html", context, "analysis")
