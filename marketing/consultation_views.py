"""Thin views of consultations, the consultant's page, attribution and the funnel: bind the
form, call one service, turn a DomainError into a form error or a message, redirect."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.errors import DomainError
from clinic.fields import hidden_characters
from clinic.params import parse_int, query_int
from members.selectors import get_member_for_user, member_search

from . import consultation_selectors as selectors
from . import consultations as services
from . import funnel as funnel_mod
from .attribution import CHANGE_PERM as ATTRIBUTION_PERM
from .attribution import attribution_change
from .consultation_forms import AttributionForm, CloseForm, ConsultationForm, DrillForm, FunnelForm
from .consultation_models import Outcome
from .models import Attribution

VIEW = services.VIEW_PERM
ADD = services.ADD_PERM

# consultation channel → how appointments records where a booking came from
BOOKING_CHANNEL = {
    "phone": "phone",
    "wechat": "wechat",
    "qq": "web",
    "online": "web",
    "weibo": "web",
    "douyin": "platform",
    "dianping": "platform",
    "xiaohongshu": "platform",
    "walk_in": "walk_in",
}


def _branch(request: HttpRequest):
    if request.branch is None:
        raise Http404
    return request.branch


def _search_text(request: HttpRequest) -> str:
    """A search box's text: trimmed, at most 50 characters, nothing with control or invisible
    characters (the database refuses NUL, and nobody types them)."""
    q = (request.GET.get("q") or "").strip()[:50]
    return "" if hidden_characters(q) else q


def _form_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@require_GET
@permission_required(VIEW, raise_exception=True)
def consult_list(request: HttpRequest) -> HttpResponse:
    q = _search_text(request)
    outcome = request.GET.get("outcome") if request.GET.get("outcome") in Outcome.values else ""
    mine = request.GET.get("mine") == "1"
    qs = selectors.consultation_list(
        request.user, mine=mine, q=q, outcome=outcome, open_only=request.GET.get("open") == "1"
    )
    page = Paginator(qs, 50).get_page(query_int(request, "page") or 1)
    return render(
        request,
        "marketing/consult_list.html",
        {"page": page, "q": q, "outcome": outcome, "outcomes": Outcome.choices, "mine": mine},
    )


@permission_required(ADD, raise_exception=True)
def consult_new(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    member_id = parse_int(request.POST.get("member") or request.GET.get("member"))
    member = get_member_for_user(request.user, member_id) if member_id else None
    initial = {}
    if member:
        initial["member"] = member.pk
    if (channel := request.GET.get("channel")) and re.fullmatch(r"[a-z0-9_-]{1,32}", channel):
        initial["channel"] = services.ConsultationChannel.objects.filter(code=channel, is_active=True).first()
    form = ConsultationForm(request.POST or None, initial=initial, user=request.user)
    duplicate = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            c = services.consultation_log(
                actor=request.user,
                branch=branch,
                member=member,
                lead_name=data["lead_name"],
                lead_phone=data["lead_phone"],
                allow_duplicate=data["allow_duplicate"],
                consultant=data.get("consultant"),
                channel=data["channel"],
                question=data["question"],
                services=data["services"],
                quote=data["quote"],
                outcome=data["outcome"],
                outcome_reason=data["outcome_reason"],
                next_step=data["next_step"],
                next_step_due=data["next_step_due"],
                partner=data["partner"],
            )
        except DomainError as exc:
            duplicate = exc.code == "duplicate"
            _form_error(form, exc)
        else:
            messages.success(request, _("Consultation logged for %(name)s.") % {"name": c.member.name})
            return redirect("marketing:consult_detail", pk=c.pk)
    q = _search_text(request) if not member else ""
    results = [m for m in member_search(request.user, q) if m.in_scope][:10] if q else []
    return render(
        request,
        "marketing/consult_form.html",
        {
            "form": form,
            "member": member,
            "q": q,
            "results": results,
            "duplicate": duplicate,
            "consultation": None,
        },
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def consult_detail(request: HttpRequest, pk: int) -> HttpResponse:
    c = selectors.get_consultation_for_user(request.user, pk)
    return render(
        request,
        "marketing/consult_detail.html",
        {
            "c": c,
            "thread": selectors.member_consultations(c.member, request.user),
            "can_edit": services.can_edit(request.user, c),
            "can_book": request.user.has_perm("appointments.add_appointment"),
            "sms_kind": services.sms_kind(c),
            "close_form": CloseForm(initial={"outcome": c.outcome}),
        },
    )


def consult_edit(request: HttpRequest, pk: int) -> HttpResponse:
    c = selectors.get_consultation_for_user(request.user, pk, write=True)
    initial = {
        "channel": c.channel_id,
        "question": c.question,
        "services": list(c.services.values_list("pk", flat=True)),
        "quote": c.quote,
        "outcome": c.outcome,
        "outcome_reason": c.outcome_reason,
        "next_step": c.next_step,
        "next_step_due": c.next_step_due,
        "partner": c.partner_id,
    }
    form = ConsultationForm(request.POST or None, initial=initial, user=request.user, editing=True)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            services.consultation_update(
                actor=request.user,
                consultation=c,
                services=data.pop("services"),
                **{k: v for k, v in data.items() if k in services.EDITABLE},
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Consultation saved."))
            return redirect("marketing:consult_detail", pk=c.pk)
    return render(
        request, "marketing/consult_form.html", {"form": form, "member": c.member, "consultation": c}
    )


@require_POST
def consult_step_done(request: HttpRequest, pk: int) -> HttpResponse:
    c = selectors.get_consultation_for_user(request.user, pk, write=True)
    try:
        services.consultation_step_done(actor=request.user, consultation=c)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Next step done."))
    nxt = request.POST.get("next", "")
    return redirect(
        nxt if nxt.startswith("/marketing/") else reverse("marketing:consult_detail", args=[c.pk])
    )


@require_POST
def consult_close(request: HttpRequest, pk: int) -> HttpResponse:
    c = selectors.get_consultation_for_user(request.user, pk, write=True)
    form = CloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose the final outcome."))
    else:
        try:
            services.consultation_close(
                actor=request.user,
                consultation=c,
                outcome=form.cleaned_data["outcome"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Consultation closed."))
    return redirect("marketing:consult_detail", pk=c.pk)


@require_POST
def consult_sms(request: HttpRequest, pk: int) -> HttpResponse:
    c = selectors.get_consultation_for_user(request.user, pk, write=True)
    try:
        services.consultation_sms(actor=request.user, consultation=c)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The text message is queued."))
    return redirect("marketing:consult_detail", pk=c.pk)


@permission_required("appointments.add_appointment", raise_exception=True)
def consult_book(request: HttpRequest, pk: int) -> HttpResponse:
    """Book from a consultation in one step: the person and the first service of interest are
    filled in; the consultation keeps the booking."""
    from appointments.forms import BookingForm

    c = selectors.get_consultation_for_user(request.user, pk, write=True)
    branch = _branch(request)
    first_service = c.services.order_by("code").first()
    initial = {
        "member": c.member_id,
        "service": query_int(request, "service") or (first_service.pk if first_service else None),
        "channel": BOOKING_CHANNEL.get(c.channel.code, "phone"),
        "date": timezone.localdate() + dt.timedelta(days=1),
    }
    if (doctor := query_int(request, "doctor")) is not None:
        initial["doctor"] = doctor
    form = BookingForm(request.POST or None, initial=initial, branch=branch, user=request.user)
    del form.fields["lead_name"], form.fields["lead_phone"]
    if request.method == "POST":
        data = request.POST.copy()
        data["member"] = str(c.member_id)
        form = BookingForm(data, initial=initial, branch=branch, user=request.user)
        del form.fields["lead_name"], form.fields["lead_phone"]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            appt = services.consultation_book(
                actor=request.user,
                consultation=c,
                branch=branch,
                service=data["service"],
                doctor=data["doctor"],
                chair=data["chair"],
                start=data["start"],
                end=data["end"],
                channel=data["channel"],
                notes=data["notes"],
                override=data.get("override", False),
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Booked: %(appt)s.") % {"appt": appt})
            return redirect("marketing:consult_detail", pk=c.pk)
    return render(request, "marketing/consult_book.html", {"form": form, "c": c, "member": c.member})


@require_GET
@login_required
def consult_mine(request: HttpRequest) -> HttpResponse:
    """The consultant's own page: today and this month, to-do list, arrivals."""
    if not request.user.has_perm(ADD):
        raise PermissionDenied
    return render(request, "marketing/consult_mine.html", selectors.consultant_page(request.user))


@require_POST
def notices_seen(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(ADD):
        raise PermissionDenied
    services.arrival_notices_seen(actor=request.user)
    return redirect("marketing:consult_mine")


def _funnel_scope(request: HttpRequest, form) -> tuple:
    if not (request.user.has_perm(services.FUNNEL_PERM) or request.user.has_perm(ADD)):
        raise PermissionDenied
    branch_id = form.cleaned_data.get("branch") if form.is_valid() else None
    return funnel_mod.scope_for(request.user, branch_id)


@require_GET
def funnel_view(request: HttpRequest) -> HttpResponse:
    form = FunnelForm(request.GET or None)
    branch_ids, consultant_id = _funnel_scope(request, form)
    lo, hi = form.period()
    by, split = form.dimension(), form.split()
    rows = funnel_mod.funnel(
        date_from=lo, date_to=hi, by=by, by_month=split, branch_ids=branch_ids, consultant_id=consultant_id
    )
    funnel_mod.label_rows(rows, by)
    if not form.is_bound or not form.is_valid():
        # Show the period and rows the table is for.
        form = FunnelForm(initial={"date_from": lo, "date_to": hi, "by": by})
    base = {"date_from": lo.isoformat(), "date_to": hi.isoformat(), "by": by}
    if form.is_bound and form.cleaned_data.get("branch"):
        base["branch"] = form.cleaned_data["branch"]
    return render(
        request,
        "marketing/consult_funnel.html",
        {
            "form": form,
            "rows": rows,
            "total": funnel_mod.totals(rows),
            "by": by,
            "split": split,
            "date_from": lo,
            "date_to": hi,
            "base_query": base,
            "own_only": consultant_id is not None,
            "stages": funnel_mod.STAGES,
            "can_export": request.user.has_perm("clinic.export_data"),
        },
    )


def _drill_args(request, form):
    branch_ids, consultant_id = _funnel_scope(request, form)
    lo, hi = form.period()
    data = form.cleaned_data if form.is_valid() else {}
    stage = data.get("stage") or "consultations"
    key = data.get("key")
    return {
        "stage": stage,
        "date_from": lo,
        "date_to": hi,
        "by": form.dimension(),
        "key": key or None,
        "key_is_null": key == 0,
        "month": data.get("month").replace(day=1) if data.get("month") else None,
        "branch_ids": branch_ids,
        "consultant_id": consultant_id,
    }


@require_GET
def funnel_people(request: HttpRequest) -> HttpResponse:
    """The drill-down: the people behind one number (phones masked)."""
    form = DrillForm(request.GET or None)
    args = _drill_args(request, form)
    if args["by"] != "month" and args["key"] is None and not args["key_is_null"]:
        args["by"] = "month"  # a total: no key filter
    qs = funnel_mod.people(**args)
    page = Paginator(qs, 50).get_page(query_int(request, "page") or 1)
    stage_label = dict(form.fields["stage"].choices).get(args["stage"])
    return render(
        request, "marketing/consult_people.html", {"page": page, "args": args, "stage_label": stage_label}
    )


@require_GET
@permission_required("clinic.export_data", raise_exception=True)
def funnel_export(request: HttpRequest) -> HttpResponse:
    from members.exports import XLSX, workbook_bytes

    form = FunnelForm(request.GET or None)
    branch_ids, consultant_id = _funnel_scope(request, form)
    lo, hi = form.period()
    by, split = form.dimension(), form.split()
    rows = funnel_mod.funnel(
        date_from=lo, date_to=hi, by=by, by_month=split, branch_ids=branch_ids, consultant_id=consultant_id
    )
    funnel_mod.label_rows(rows, by)
    header = [
        _("Row"),
        _("Month"),
        _("Consultations"),
        _("Booked"),
        _("Arrived"),
        _("Paid visit"),
        _("Enrolled"),
        _("Revenue"),
        _("Median days to booking"),
        _("Median days to arrival"),
        _("Median days to paid visit"),
        _("Median days to enrolment"),
    ]
    body = [
        [
            r.label,
            r.month.strftime("%Y-%m") if r.month else "",
            *[r.counts[s] for s in funnel_mod.STAGES],
            r.revenue,
            *[r.medians[s] for s in funnel_mod.STAGES[1:]],
        ]
        for r in rows
    ]
    content = workbook_bytes([(_("Funnel"), header, body)])
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="funnel-{lo:%Y%m%d}-{hi:%Y%m%d}.xlsx"'
    return response


def attribution_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, perm=ATTRIBUTION_PERM)
    current = (
        Attribution.objects.filter(member=member)
        .select_related("channel", "partner", "consultant__staff")
        .first()
    )
    initial = (
        {"channel": current.channel_id, "partner": current.partner_id, "consultant": current.consultant_id}
        if current
        else {}
    )
    form = AttributionForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            attribution_change(
                actor=request.user,
                member=member,
                reason=data["reason"],
                channel=data["channel"],
                partner=data["partner"],
                consultant=data["consultant"],
                referrer=current.referrer if current else None,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("First touch changed."))
            return redirect(f"{reverse('members:detail', args=[member.pk])}?tab=consultations")
    return render(
        request, "marketing/consult_attribution.html", {"form": form, "member": member, "current": current}
    )
