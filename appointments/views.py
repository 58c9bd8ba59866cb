"""Thin views: bind the form, call one service, turn a DomainError into a form error."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.errors import DomainError
from clinic.models import ServiceItem
from clinic.params import parse_int, query_datetime, query_int
from members.selectors import get_member_for_user, member_search

from . import checkout, integration, pricing, schedule, selectors, services, timeline
from .errors import AppointmentError
from .forms import (
    BookingForm,
    BulkMoveForm,
    CancelForm,
    ChargeLineForm,
    CheckoutForm,
    FilterForm,
    LeaveForm,
    MaterialForm,
    MemberPickForm,
    MoveForm,
    VoidForm,
    WalkInForm,
    split_codes,
)
from .materials import materials_by_line
from .models import Reminder, Status, VisitStatus
from .registry import attach_arrival_notes

VIEW = "appointments.view_appointment"
ADD = "appointments.add_appointment"
CHANGE = "appointments.change_appointment"


def _branch(request: HttpRequest):
    if request.branch is None:
        raise Http404
    return request.branch


def _form_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _doctor_id(request) -> int | None:
    return query_int(request, "doctor")


@require_GET
@permission_required(VIEW, raise_exception=True)
def today(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    template = "appointments/today.html#board" if request.htmx else "appointments/today.html"
    board = selectors.today_board(branch)
    # What higher apps know about the people (their consultations), for whoever receives them.
    attach_arrival_notes(
        [a for key in ("expected", "waiting", "in_treatment") for a in board[key]], request.user
    )
    return render(
        request,
        template,
        {
            "board": board,
            "branch": branch,
            "pick": MemberPickForm(request.GET or None),
        },
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def day(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    form = FilterForm(request.GET or None)
    when = form.day()
    by = request.GET.get("by") if request.GET.get("by") in ("doctor", "chair") else "doctor"
    status = request.GET.get("status") if request.GET.get("status") in Status.values else ""
    columns = selectors.day_columns(branch, when, by=by, doctor_id=_doctor_id(request), status=status)
    return render(
        request,
        "appointments/day.html",
        {
            "form": form,
            "columns": columns,
            "day": when,
            "by": by,
            "prev": when - dt.timedelta(days=1),
            "next": when + dt.timedelta(days=1),
            "branch": branch,
            "doctors": schedule.doctors_for_branch(branch),
            "detail_prefix": reverse("appointments:detail", args=[0])[:-2],
            "show_medical": request.user.has_perm("clinic.view_medical"),
            "overbooked_label": _("Overbooked"),
            "medical_label": _("Medical alert"),
            "free_label": _("Free"),
            "book_url": reverse("appointments:book"),
            "can_book": request.user.has_perm(ADD),
        },
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def week(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    when = FilterForm(request.GET or None).day()
    monday = when - dt.timedelta(days=when.weekday())
    days, rows = selectors.week_grid(branch, monday, doctor_id=_doctor_id(request))
    return render(
        request,
        "appointments/week.html",
        {
            "days": days,
            "rows": rows,
            "prev": monday - dt.timedelta(days=7),
            "next": monday + dt.timedelta(days=7),
            "branch": branch,
        },
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def appointment_list(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.appointment_list(
        request.user,
        branch=request.branch,
        date_from=data.get("date"),
        date_to=data.get("date"),
        doctor_id=data.get("doctor"),
        status=data.get("status", ""),
        q=(data.get("q") or "").strip(),
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    template = "appointments/list.html#rows" if request.htmx else "appointments/list.html"
    return render(request, template, {"form": form, "page": page})


@require_GET
@permission_required(VIEW, raise_exception=True)
def member_pick(request: HttpRequest) -> HttpResponse:
    """Instant search for a person to book, walk in or check in (htmx partial)."""
    form = MemberPickForm(request.GET or None)
    q = form.cleaned_data["q"].strip() if form.is_valid() else ""
    results = [m for m in member_search(request.user, q) if m.in_scope] if q else []
    purpose = request.GET.get("for", "book")
    return render(request, "appointments/_member_pick.html", {"results": results, "q": q, "purpose": purpose})


def _booking_initial(request, branch) -> dict:
    initial = {"channel": request.GET.get("channel", "phone")}
    moment = query_datetime(request, "start")
    if moment is not None:
        initial.update(date=moment.date(), time=moment.time().replace(second=0, microsecond=0))
    for key in ("doctor", "service", "member", "chair"):
        if (value := query_int(request, key)) is not None:
            initial[key] = value
    initial.setdefault("date", timezone.localdate())
    return initial


@permission_required(ADD, raise_exception=True)
def book(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    form = BookingForm(
        request.POST or None, initial=_booking_initial(request, branch), branch=branch, user=request.user
    )
    member_id = request.POST.get("member") or request.GET.get("member")
    member = get_member_for_user(request.user, member_id) if (member_id := parse_int(member_id)) else None
    slots, slot_query = [], {}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            appt = services.appointment_book(
                actor=request.user,
                branch=branch,
                member=member,
                lead_name=data["lead_name"],
                lead_phone=data["lead_phone"],
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
            slots = getattr(exc, "slots", [])
            brief = getattr(exc, "brief", None) if slots else None
            _form_error(form, AppointmentError(brief, field=exc.field) if brief else exc)
            slot_query = {
                "doctor": data["doctor"].pk,
                "service": data["service"].pk,
                "channel": data["channel"],
            }
            if member:
                slot_query["member"] = member.pk
        else:
            messages.success(request, _("Booked: %(appt)s.") % {"appt": appt})
            return redirect("appointments:detail", pk=appt.pk)
    slot_links = [
        (s, f"{reverse('appointments:book')}?{urlencode({**slot_query, 'start': s.isoformat()})}")
        for s in slots
    ]
    return render(
        request,
        "appointments/book.html",
        {"form": form, "member": member, "slot_links": slot_links, "pick": MemberPickForm()},
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    appt = selectors.get_appointment_for_user(request.user, pk)
    attach_arrival_notes([appt], request.user)
    return render(
        request,
        "appointments/detail.html",
        {
            "appt": appt,
            "events": [(e, timeline.title(e.action)) for e in appt.events.all()[:50]],
            "reminders": Reminder.objects.filter(appointment=appt).order_by("due_at"),
            "visit": getattr(appt, "visit", None) if hasattr(appt, "visit") else None,
            "cancel_form": CancelForm(),
            "show_medical": request.user.has_perm("clinic.view_medical"),
        },
    )


_ACTIONS = {
    "confirm": services.appointment_confirm,
    "check-in": services.appointment_check_in,
    "start": services.appointment_start_treatment,
    "complete": services.appointment_complete,
}


@require_POST
def transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in _ACTIONS:
        raise Http404
    appt = selectors.get_appointment_for_user(request.user, pk, write=True)
    try:
        appt = _ACTIONS[action](actor=request.user, appointment=appt)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(name)s: %(status)s.") % {"name": appt.member.name, "status": appt.get_status_display()},
        )
    if action == "start" and appt.status == Status.IN_TREATMENT and hasattr(appt, "visit"):
        return redirect("appointments:visit", pk=appt.visit.pk)
    nxt = request.POST.get("next", "")
    return redirect(
        nxt if nxt.startswith("/appointments/") else reverse("appointments:detail", args=[appt.pk])
    )


@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    appt = selectors.get_appointment_for_user(request.user, pk, write=True)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            services.appointment_cancel(
                actor=request.user, appointment=appt, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The appointment is cancelled."))
    else:
        messages.error(request, _("Say why the appointment is cancelled."))
    return redirect("appointments:detail", pk=appt.pk)


def move(request: HttpRequest, pk: int) -> HttpResponse:
    appt = selectors.get_appointment_for_user(request.user, pk, write=True)
    local = timezone.localtime(appt.start)
    initial = {"doctor": appt.doctor_id, "chair": appt.chair_id, "date": local.date(), "time": local.time()}
    form = MoveForm(request.POST or None, initial=initial, branch=appt.branch, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.appointment_move(
                actor=request.user,
                appointment=appt,
                start=schedule.local_dt(data["date"], data["time"]),
                doctor=data["doctor"],
                chair=data["chair"],
                reason=data["reason"],
                override=data.get("override", False),
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The appointment is moved and the person is told."))
            return redirect("appointments:detail", pk=appt.pk)
    return render(request, "appointments/move.html", {"form": form, "appt": appt})


@permission_required(ADD, raise_exception=True)
def walk_in(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    form = WalkInForm(request.POST or None, branch=branch, initial={"member": request.GET.get("member")})
    member_id = request.POST.get("member") or request.GET.get("member")
    member = get_member_for_user(request.user, member_id) if (member_id := parse_int(member_id)) else None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            appt = services.walk_in_register(
                actor=request.user,
                branch=branch,
                member=member,
                lead_name=data["lead_name"],
                lead_phone=data["lead_phone"],
                service=data["service"],
                doctor=data["doctor"],
                notes=data["notes"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s is checked in with %(doctor)s at %(time)s.")
                % {
                    "name": appt.member.name,
                    "doctor": services.doctor_name(appt.doctor),
                    "time": timezone.localtime(appt.start).strftime("%H:%M"),
                },
            )
            return redirect("appointments:today")
    return render(
        request,
        "appointments/walk_in.html",
        {
            "form": form,
            "member": member,
            "candidates": services.walk_in_candidates(branch, now=timezone.now()),
        },
    )


@permission_required("appointments.add_shiftexception", raise_exception=True)
def leave(request: HttpRequest) -> HttpResponse:
    """A doctor becomes unavailable: record it, list the affected bookings, move them."""
    branch = _branch(request)
    form = LeaveForm(request.POST or None, branch=branch)
    affected = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _exc, affected = services.shift_exception_add(
                actor=request.user,
                doctor=data["doctor"],
                branch=branch,
                date=data["date"],
                kind=data["kind"],
                starts=data["starts"],
                ends=data["ends"],
                reason=data["reason"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved. %(n)s appointments are affected.") % {"n": len(affected)})
            if not affected:
                return redirect("appointments:day")
    bulk = BulkMoveForm(
        branch=branch,
        choices=[(a.pk, str(a)) for a in affected],
        initial={"appointments": [a.pk for a in affected]},
    )
    return render(request, "appointments/leave.html", {"form": form, "affected": affected, "bulk": bulk})


@require_POST
@permission_required("appointments.add_shiftexception", raise_exception=True)
def bulk_move(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    ids = [i for v in request.POST.getlist("appointments") if (i := parse_int(v))]
    appts = list(selectors.appointments_for_user(request.user).filter(pk__in=ids, branch=branch))
    form = BulkMoveForm(request.POST, branch=branch, choices=[(a.pk, str(a)) for a in appts])
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("appointments:leave")
    moved, failed = services.appointments_bulk_move(
        actor=request.user,
        appointments=appts,
        doctor=form.cleaned_data["doctor"],
        date=form.cleaned_data["date"],
        reason=form.cleaned_data["reason"],
    )
    messages.success(request, _("%(n)s appointments moved; the people are told.") % {"n": len(moved)})
    for appt, why in failed:
        messages.error(request, f"{appt}: {why}")
    return redirect("appointments:list")


# --- visits -----------------------------------------------------------------------------------


def visit(request: HttpRequest, pk: int) -> HttpResponse:
    v = selectors.get_visit_for_user(request.user, pk)
    line_form = ChargeLineForm(request.POST or None, prefix="line", branch=v.branch)
    if request.method == "POST":
        if not request.user.has_perm("appointments.change_visit"):
            raise PermissionDenied
        if line_form.is_valid():
            try:
                checkout.charge_line_add(
                    actor=request.user,
                    visit=v,
                    item=line_form.cleaned_data["item"],
                    quantity=line_form.cleaned_data["quantity"],
                    teeth=line_form.cleaned_data["teeth"],
                    doctor=line_form.cleaned_data["doctor"],
                )
            except DomainError as exc:
                _form_error(line_form, exc)
            else:
                return redirect("appointments:visit", pk=v.pk)
    lines, result, coupon_error = [], None, ""
    # ?coupons=… previews the price with those coupons before anyone pays (the checkout
    # form below is then prefilled with the codes and the amount due).
    codes = split_codes(request.GET.get("coupons", ""))
    if v.status == VisitStatus.OPEN:
        try:
            lines, result = checkout.quote(visit=v, coupon_codes=codes)
        except DomainError as exc:
            coupon_error, codes = (exc.message if codes else ""), []
            try:
                lines, result = checkout.quote(visit=v)
            except DomainError:
                lines = list(v.lines.select_related("item"))
    else:
        lines = list(v.lines.select_related("item"))
    used = materials_by_line(v)
    for line in lines:
        line.used_materials = used.get(line.pk, [])
    pay = CheckoutForm(
        initial={
            "checkout_key": uuid.uuid4().hex,
            "amount": result.amount_due if result else None,
            "coupons": ", ".join(codes),
        }
    )
    return render(
        request,
        "appointments/visit.html",
        {
            "visit": v,
            "lines": lines,
            "result": result,
            "coupon_codes": ", ".join(codes),
            "coupon_error": coupon_error,
            "line_form": line_form,
            "pay": pay,
            "void_form": VoidForm(),
            "material_form": MaterialForm(visit=v)
            if v.status == VisitStatus.OPEN and request.user.has_perm("inventory.use_stock")
            else None,
            "stored_value": integration.stored_value_balance(v.member)
            if v.status == VisitStatus.OPEN
            else None,
        },
    )


@require_POST
def line_remove(request: HttpRequest, pk: int, line_id: int) -> HttpResponse:
    v = selectors.get_visit_for_user(request.user, pk, perm="appointments.change_visit")
    line = v.lines.filter(pk=line_id).first()
    if line is None:
        raise Http404
    try:
        checkout.charge_line_remove(actor=request.user, line=line)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("appointments:visit", pk=v.pk)


@require_POST
def visit_materials(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a material to a line (``line``, ``item``, ``quantity``, ``batch``) or remove one
    (``remove`` = its id), while the visit is open."""
    from . import materials
    from .models import ChargeLineMaterial

    v = selectors.get_visit_for_user(request.user, pk, perm="appointments.change_visit")
    if not request.user.has_perm("inventory.use_stock"):
        raise PermissionDenied
    remove = parse_int(request.POST.get("remove"))
    try:
        if remove is not None:
            material = (
                ChargeLineMaterial.objects.filter(pk=remove, line__visit=v)
                .select_related("item", "line")
                .first()
            )
            if material is None:
                raise Http404
            materials.material_remove(actor=request.user, material=material)
        else:
            form = MaterialForm(request.POST, visit=v)
            if not form.is_valid():
                messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
                return redirect("appointments:visit", pk=v.pk)
            d = form.cleaned_data
            materials.material_add(
                actor=request.user, line=d["line"], item=d["item"], quantity=d["quantity"], batch=d["batch"]
            )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("appointments:visit", pk=v.pk)


@require_POST
def visit_checkout(request: HttpRequest, pk: int) -> HttpResponse:
    v = selectors.get_visit_for_user(request.user, pk, perm="appointments.checkout_visit")
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("appointments:visit", pk=v.pk)
    try:
        checkout.visit_checkout(
            actor=request.user,
            visit=v,
            payments=form.payments(),
            checkout_key=form.cleaned_data["checkout_key"],
            coupon_codes=form.coupon_codes(),
            manual_discount=form.cleaned_data.get("manual_discount") or 0,
            manual_reason=form.cleaned_data.get("manual_reason") or "",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("appointments:visit", pk=v.pk)
    messages.success(request, _("Checked out."))
    return redirect("appointments:receipt", pk=v.pk)


@require_POST
def visit_void(request: HttpRequest, pk: int) -> HttpResponse:
    v = selectors.get_visit_for_user(request.user, pk, perm="appointments.void_visit")
    form = VoidForm(request.POST)
    if form.is_valid():
        try:
            checkout.visit_void(actor=request.user, visit=v, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The visit is voided and the payments reversed."))
    return redirect("appointments:visit", pk=v.pk)


@require_GET
def receipt(request: HttpRequest, pk: int) -> HttpResponse:
    v = selectors.get_visit_for_user(request.user, pk)
    if v.status == VisitStatus.OPEN:
        raise Http404
    context = {
        "visit": v,
        "lines": v.lines.select_related("item", "doctor__staff"),
        "discounts": pricing.discount_rows(v.discounts.all()),
        "payments": v.payments.all(),
        "stored_value": integration.stored_value_for_receipt(v),
    }
    if request.GET.get("format") == "pdf":
        from .receipts import render_pdf

        pdf = render_pdf(request, context)
        if pdf is not None:
            response = HttpResponse(pdf, content_type="application/pdf")
            response["Content-Disposition"] = f'inline; filename="receipt-{v.pk}.pdf"'
            return response
    return render(request, "appointments/receipt.html", context)


@require_GET
@permission_required(VIEW, raise_exception=True)
def free_slots(request: HttpRequest) -> HttpResponse:
    """htmx: free start times of a doctor for a service on a day (the booking form's helper)."""
    branch = _branch(request)
    doctor = schedule.doctors_for_branch(branch).filter(pk=_doctor_id(request) or 0).first()
    service_id = query_int(request, "service")
    service = ServiceItem.objects.filter(pk=service_id).first() if service_id else None
    slots = []
    when = FilterForm(request.GET or None).day()
    if doctor and service:
        slots = schedule.free_slots(
            doctor,
            branch,
            duration=dt.timedelta(minutes=service.duration_minutes),
            after=schedule.day_bounds(when)[0],
            days=1,
            count=40,
        )
    return render(request, "appointments/_slots.html", {"slots": slots, "doctor": doctor, "service": service})
