"""The clinical pages: the chart (as of a date), notes and amendments, attachments (served
only here), plans (editor, review, acceptance PDF, execution), the review queue and tracing.
Thin: bind the form, call one service, turn a ``DomainError`` into a form error or a message."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from appointments.models import Visit
from clinic.errors import DomainError
from clinic.params import query_int
from clinic.services import audit_record

from . import selectors, services, tracing
from .forms import (
    AmendForm,
    AsOfForm,
    AttachmentForm,
    ChargeForm,
    FindingForm,
    ItemRefForm,
    NoteForm,
    PhaseForm,
    PlanForm,
    PlanItemForm,
    ReviewForm,
    TraceForm,
)
from .labels import REVIEW_REASONS
from .models import NOTE_FIELDS, PlanItem, PlanStatus
from .services import ATTACH_PERM, FINDING_PERM, NOTE_PERM, PLAN_PERM, REVIEW_PERM, TRACE_PERM


def _form_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


# --- the chart -------------------------------------------------------------------------------


def _as_of(request, member) -> tuple[dt.datetime | None, Visit | None, AsOfForm]:
    form = AsOfForm(request.GET or None)
    visit = None
    at = None
    if form.is_valid():
        if form.cleaned_data.get("visit"):
            visit = Visit.objects.filter(pk=form.cleaned_data["visit"], member=member).first()
            if visit is not None:
                # The chart at the end of that visit's day: what the doctor saw when leaving.
                day = timezone.localtime(visit.opened_at).date()
                at = dt.datetime.combine(
                    day + dt.timedelta(days=1), dt.time.min, tzinfo=timezone.get_current_timezone()
                )
        elif form.cleaned_data.get("as_of"):
            day = form.cleaned_data["as_of"]
            at = dt.datetime.combine(
                day + dt.timedelta(days=1), dt.time.min, tzinfo=timezone.get_current_timezone()
            )
    return at, visit, form


@require_http_methods(["GET", "POST"])
def chart(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_clinical(request.user, pk)
    can_write = request.user.has_perm(FINDING_PERM)
    form = None
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied
        form = FindingForm(request.POST, member=member)
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.findings_record(
                    actor=request.user,
                    member=member,
                    visit=d["visit"],
                    teeth=d["teeth"],
                    kind=d["kind"],
                    surfaces=d["surfaces"],
                    mobility=d["mobility"],
                    pockets=form.pockets(),
                    note=d["note"],
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("Findings recorded."))
                url = reverse("clinical:chart", args=[member.pk])
                return redirect(f"{url}?visit={d['visit'].pk}" if d["visit"] else url)
    at, visit, asof_form = _as_of(request, member)
    findings = selectors.chart_as_of(member.pk, at)
    if form is None and can_write:
        initial = {"visit": visit} if visit else {}
        form = FindingForm(member=member, initial=initial)
    context = {
        "member": member,
        "grid": selectors.chart_grid(findings, primary=False),
        "primary_grid": selectors.chart_grid(findings, primary=True),
        "findings": sorted(findings, key=lambda f: (f.tooth, f.surface)),
        "as_of": at,
        "as_of_day": (at - dt.timedelta(days=1)).date() if at else None,
        "as_of_visit": visit,
        "asof_form": asof_form,
        "visits": selectors.chart_dates(member.pk),
        "form": form,
    }
    return _no_store(render(request, "clinical/chart.html", context))


# --- notes -----------------------------------------------------------------------------------


def _visit_for_user(user, pk: int) -> Visit:
    visit = Visit.objects.select_related("member", "branch", "doctor__staff").filter(pk=pk).first()
    if visit is None:
        raise Http404
    selectors.get_member_clinical(user, visit.member_id)
    return visit


@require_http_methods(["GET", "POST"])
def visit_note(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit_for_user(request.user, pk)
    note = getattr(visit, "clinical_note", None)
    if note is not None:
        return redirect("clinical:note", pk=note.pk)
    if not request.user.has_perm(NOTE_PERM):
        raise PermissionDenied
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            note = services.note_write(actor=request.user, visit=visit, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Note saved."))
            return redirect("clinical:note", pk=note.pk)
    return _no_store(
        render(request, "clinical/note_form.html", {"form": form, "visit": visit, "member": visit.member})
    )


@require_GET
def note_detail(request: HttpRequest, pk: int) -> HttpResponse:
    note = selectors.get_note_for_user(request.user, pk)
    services.notes_read(actor=request.user, member=note.member, notes=[note])
    amendments = list(note.amendments.select_related("author__staff"))
    versions = [("original", note, {n: getattr(note, n) for n in NOTE_FIELDS})]
    versions += [("amendment", a, {n: getattr(a, n) for n in NOTE_FIELDS}) for a in amendments]
    context = {
        "note": note,
        "member": note.member,
        "current": services.note_current(note),
        "versions": list(reversed(versions)),
        "fields": NOTE_FIELDS,
        "can_amend": request.user.has_perm(NOTE_PERM),
    }
    return _no_store(render(request, "clinical/note.html", context))


@require_http_methods(["GET", "POST"])
def note_amend(request: HttpRequest, pk: int) -> HttpResponse:
    note = selectors.get_note_for_user(request.user, pk)
    if not request.user.has_perm(NOTE_PERM):
        raise PermissionDenied
    form = AmendForm(request.POST or None, initial=services.note_current(note))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("reason")
        try:
            services.note_amend(actor=request.user, note=note, reason=reason, **data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Amendment saved; the earlier text is kept."))
            return redirect("clinical:note", pk=note.pk)
    return _no_store(
        render(
            request,
            "clinical/note_form.html",
            {"form": form, "note": note, "visit": note.visit, "member": note.member},
        )
    )


# --- attachments -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def attachment_add(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_clinical(request.user, pk, perm=ATTACH_PERM)
    form = AttachmentForm(request.POST or None, request.FILES or None, member=member)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.attachment_add(
                actor=request.user, member=member, kind=d["kind"], upload=d["file"], visit=d["visit"]
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("File added."))
            return redirect(reverse("members:detail", args=[member.pk]) + "?tab=clinical")
    return _no_store(render(request, "clinical/attachment_form.html", {"form": form, "member": member}))


@require_GET
def attachment(request: HttpRequest, pk: int) -> FileResponse:
    att = selectors.get_attachment_for_user(request.user, pk)
    try:
        handle = att.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="clinical.attachment.viewed",
            target=att.member,
            changes={"name": att.original_name},
        )
    inline = att.content_type.startswith("image/") or att.content_type == "application/pdf"
    response = FileResponse(
        handle, content_type=att.content_type, as_attachment=not inline, filename=att.original_name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return _no_store(response)


# --- plans -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_clinical(request.user, pk, perm=PLAN_PERM)
    form = PlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.plan_create(actor=request.user, member=member, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return redirect("clinical:plan", pk=plan.pk)
    return render(request, "clinical/plan_new.html", {"form": form, "member": member})


def _plan_context(request, plan, **forms) -> dict:
    quote = selectors.plan_quote(plan)
    progress = (
        selectors.plan_progress(plan) if plan.status in (PlanStatus.ACCEPTED, PlanStatus.COMPLETED) else None
    )
    user = request.user
    can_write = user.has_perm(PLAN_PERM)
    phases = []
    by_phase: dict = {}
    for line in quote.lines:
        by_phase.setdefault(line.item.phase_id, []).append(line)
    for phase in plan.phases.all():
        phases.append((phase, by_phase.get(phase.pk, [])))
    charged = {}
    if progress:
        charged = {i.pk: c for i, c in progress.done + progress.in_progress}
    for line in quote.lines:
        line.charge = charged.get(line.item.pk)
    return {
        "plan": plan,
        "member": plan.member,
        "quote": quote,
        "phases": phases,
        "progress": progress,
        "charged": charged,
        "reviews": list(plan.reviews.select_related("actor__staff")),
        "reasons": [REVIEW_REASONS.get(r, r) for r in plan.review_reasons],
        "can_write": can_write,
        "can_review": user.has_perm(REVIEW_PERM)
        and plan.status == PlanStatus.IN_REVIEW
        and plan.doctor_id != user.pk,
        "plan_form": forms.get("plan_form")
        or (
            PlanForm(
                initial={
                    "title": plan.title,
                    "estimated_weeks": plan.estimated_weeks,
                    "plan_type": plan.plan_type,
                }
            )
            if can_write and plan.is_editable
            else None
        ),
        "phase_form": forms.get("phase_form") or (PhaseForm() if can_write and plan.is_editable else None),
        "item_form": forms.get("item_form")
        or (PlanItemForm(plan=plan) if can_write and plan.is_editable else None),
        "review_form": forms.get("review_form") or ReviewForm(),
        "charge_form": forms.get("charge_form")
        or (ChargeForm(plan=plan) if plan.status == PlanStatus.ACCEPTED else None),
        "open_visits": list(selectors.open_visits(plan)) if plan.status == PlanStatus.ACCEPTED else [],
        "error": forms.get("error"),
        "versions": _versions(plan),
    }


def _versions(plan) -> list:
    out = [plan]
    seen = plan
    while seen.previous_id and len(out) < 20:
        seen = seen.previous
        out.append(seen)
    nxt = getattr(plan, "next_version", None)
    while nxt is not None and len(out) < 40:
        out.insert(0, nxt)
        nxt = getattr(nxt, "next_version", None)
    return out


@require_GET
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = selectors.get_plan_for_user(request.user, pk)
    return _no_store(render(request, "clinical/plan.html", _plan_context(request, plan)))


def _item(plan, raw) -> PlanItem:
    form = ItemRefForm(raw)
    if not form.is_valid():
        raise Http404
    item = plan.items.select_related("item", "plan").filter(pk=form.cleaned_data["item"]).first()
    if item is None:
        raise Http404
    return item


PLAN_OPS = {
    "update",
    "phase",
    "item",
    "remove",
    "choose",
    "submit",
    "review",
    "present",
    "accept",
    "version",
    "cancel",
    "charge",
}


@require_POST
def plan_act(request: HttpRequest, pk: int, op: str) -> HttpResponse:
    """One action of the plan page (``op``); the service decides whether it is allowed now."""
    if op not in PLAN_OPS:
        raise Http404
    perm = REVIEW_PERM if op == "review" else "appointments.change_visit" if op == "charge" else PLAN_PERM
    plan = selectors.get_plan_for_user(request.user, pk, perm=perm)
    user, post, forms = request.user, request.POST, {}
    target = plan
    try:
        if op == "update":
            form = forms["plan_form"] = PlanForm(post)
            if not form.is_valid():
                raise _Invalid
            services.plan_update(actor=user, plan=plan, **form.cleaned_data)
        elif op == "phase":
            form = forms["phase_form"] = PhaseForm(post)
            if not form.is_valid():
                raise _Invalid
            services.plan_phase_add(actor=user, plan=plan, name=form.cleaned_data["name"])
        elif op == "item":
            form = forms["item_form"] = PlanItemForm(post, plan=plan)
            if not form.is_valid():
                raise _Invalid
            services.plan_item_add(actor=user, plan=plan, **form.cleaned_data)
        elif op == "remove":
            services.plan_item_remove(actor=user, item=_item(plan, post))
        elif op == "choose":
            services.plan_choose_alternative(actor=user, item=_item(plan, post))
        elif op == "submit":
            plan = services.plan_submit(actor=user, plan=plan)
            messages.success(
                request,
                _("Sent to a senior doctor for review.")
                if plan.status == PlanStatus.IN_REVIEW
                else _("The plan is ready to present."),
            )
        elif op == "review":
            form = forms["review_form"] = ReviewForm(post)
            if not form.is_valid():
                raise _Invalid
            services.plan_review(
                actor=user,
                plan=plan,
                approve=form.cleaned_data["decision"] == "approve",
                comment=form.cleaned_data["comment"],
            )
            messages.success(request, _("Review recorded."))
            return redirect("clinical:review_queue")
        elif op == "present":
            services.plan_present(actor=user, plan=plan)
        elif op == "accept":
            services.plan_accept(actor=user, plan=plan)
            messages.success(request, _("Acceptance recorded. Print the plan for the patient to sign."))
        elif op == "version":
            target = services.plan_new_version(actor=user, plan=plan)
            messages.success(request, _("A new version was made; the accepted one is kept."))
        elif op == "cancel":
            services.plan_cancel(actor=user, plan=plan)
        elif op == "charge":
            form = forms["charge_form"] = ChargeForm(post, plan=plan)
            if not form.is_valid():
                raise _Invalid
            services.plan_item_charge(actor=user, item=_item(plan, post), visit=form.cleaned_data["visit"])
            messages.success(request, _("Added to the visit's charges."))
    except _Invalid:
        return render(request, "clinical/plan.html", _plan_context(request, plan, **forms), status=400)
    except DomainError as exc:
        form = next(iter(forms.values()), None)
        if form is not None:
            _form_error(form, exc)
        else:
            forms["error"] = exc.message
        return render(request, "clinical/plan.html", _plan_context(request, plan, **forms), status=400)
    return redirect("clinical:plan", pk=target.pk)


class _Invalid(Exception):
    pass


@require_GET
def plan_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The plan to sign (printable PDF with the embedded CJK font)."""
    from clinic import pdf

    plan = selectors.get_plan_for_user(request.user, pk)
    context = _plan_context(request, plan)
    context["printed_at"] = timezone.localtime()
    content = pdf.render("clinical/plan_pdf.html", "clinical/plan_pdf.css", context, request=request)
    with transaction.atomic():
        audit_record(actor=request.user, action="clinical.plan.printed", target=plan)
    if content is None:
        return _no_store(render(request, "clinical/plan_pdf.html", context))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="plan-{plan.pk}-v{plan.version}.pdf"'
    return _no_store(response)


@require_GET
@permission_required(REVIEW_PERM, raise_exception=True)
def review_queue(request: HttpRequest) -> HttpResponse:
    plans = list(selectors.review_queue(request.user)[:200])
    for plan in plans:
        plan.reason_labels = [REVIEW_REASONS.get(r, r) for r in plan.review_reasons]
    return _no_store(render(request, "clinical/review_queue.html", {"plans": plans}))


# --- tracing ---------------------------------------------------------------------------------


def _trace(request):
    form = TraceForm(request.GET or None)
    if not request.GET or not form.is_valid():
        return form, None, {}
    d = form.cleaned_data
    values = {f.key: d.get(f.key) for f in tracing.trace_filters()}
    qs = tracing.trace_lines(request.user, date_from=d["date_from"], date_to=d["date_to"], values=values)
    rows = tracing.trace_rows(qs[:20000])
    return form, rows, {"from": d["date_from"], "to": d["date_to"], **values}


@require_GET
@permission_required(TRACE_PERM, raise_exception=True)
def trace(request: HttpRequest) -> HttpResponse:
    form, rows, filters = _trace(request)
    if rows is not None:
        tracing.trace_audit(actor=request.user, filters=filters, count=len(rows), export=False)
    page = query_int(request, "page", maximum=10_000) or 1
    shown = rows[(page - 1) * 200 : page * 200] if rows else rows
    return _no_store(
        render(
            request,
            "clinical/trace.html",
            {"form": form, "rows": shown, "total": len(rows or []), "query": request.GET.urlencode()},
        )
    )


@require_GET
@permission_required(TRACE_PERM, raise_exception=True)
def trace_export(request: HttpRequest) -> HttpResponse:
    from members.exports import XLSX, escape_cell, workbook_bytes

    _form, rows, filters = _trace(request)
    if rows is None:
        return redirect(reverse("clinical:trace") + ("?" + request.GET.urlencode() if request.GET else ""))
    tracing.trace_audit(actor=request.user, filters=filters, count=len(rows), export=True)
    header = [_("Person no."), _("Name"), _("Phone"), _("Visits"), _("Services"), _("Last treated")]
    body = (
        [
            escape_cell(v)
            for v in (
                r["member"].pk,
                r["name"],
                r["phone"],
                len(r["visits"]),
                "；".join(r["services"]),
                r["last"],
            )
        ]
        for r in rows
    )
    response = HttpResponse(workbook_bytes([(_("Traced patients"), header, body)]), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="trace-{timezone.localdate():%Y%m%d}.xlsx"'
    return _no_store(response)
