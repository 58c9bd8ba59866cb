"""The complaint pages: the list with time left, intake, the complaint page with the actions
of its state, attachments (served only here, after the scope check) and the analysis. Thin:
bind the form, call one service, turn a ``DomainError`` into a form error or a message."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.errors import DomainError
from clinic.params import query_int
from clinic.phones import normalize_phone
from clinic.services import audit_record

from . import analysis, services
from .forms import (
    AttachForm,
    CloseForm,
    IntakeForm,
    ListFilterForm,
    MakeGoodForm,
    OptionalTextForm,
    ReviewForm,
    ReviewRequestForm,
    TextForm,
)
from .models import OPEN_STATUSES, MakeGood, MakeGoodStatus, Status
from .selectors import VIEW_PERM, WORK_PERM, complaints_for_user, get_complaint_for_user, with_clock

ADD_PERM = "complaints.add_complaint"
ANALYSIS_PERM = "complaints.view_complaint_analysis"


def _form_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _can_see_list(user) -> bool:
    return user.has_perm(VIEW_PERM) or user.has_perm("complaints.review_complaint")


@require_GET
def complaint_list(request: HttpRequest) -> HttpResponse:
    if not _can_see_list(request.user):
        raise PermissionDenied
    form = ListFilterForm(request.GET or None)
    filters = form.filters() if request.GET else {"status": ListFilterForm.OPEN}
    qs = complaints_for_user(request.user)
    status = filters.get("status")
    if status == ListFilterForm.OPEN:
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    for name in ("severity", "category"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    now = timezone.now()
    if filters.get("overdue"):
        from django.db.models import Q

        qs = qs.filter(
            Q(acknowledged_at__isnull=True, ack_due_at__lte=now)
            | Q(proposed_at__isnull=True, proposal_due_at__lte=now),
            status__in=OPEN_STATUSES,
        )
    qs = (
        qs.order_by("ack_due_at", "pk")
        if status == ListFilterForm.OPEN
        else qs.order_by("-received_at", "-pk")
    )
    page = Paginator(qs, 50).get_page(query_int(request, "page", maximum=100_000) or 1)
    rows = [with_clock(c, now) for c in page.object_list]
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "page_query": urlencode(query),
        "can_add": request.user.has_perm(ADD_PERM),
        "can_analyse": request.user.has_perm(ANALYSIS_PERM),
        "missing_years": _missing_years(request.user),
    }
    template = "complaints/list.html#rows" if request.htmx else "complaints/list.html"
    return render(request, template, context)


def _missing_years(user) -> list[int]:
    if not user.has_perm("clinic.view_all_branches"):
        return []
    from clinic.workdays import missing_years

    return missing_years()


def _find_member(request, raw: str):
    from members.models import Member
    from members.selectors import scope_members

    raw = (raw or "").strip()
    if not raw:
        return None
    qs = scope_members(Member.objects.filter(merged_into__isnull=True), request.user)
    found = list(qs.filter(card_no=raw)[:2])
    if not found:
        try:
            phone = normalize_phone(raw)
        except Exception:
            phone = None
        if phone:
            found = list(qs.filter(phone=phone)[:2])
    if not found:
        raise DomainError(_("Nobody on file has this phone or card number."), field="member_phone")
    if len(found) > 1:
        raise DomainError(
            _("Several people share this phone: enter the card number, or the contact's name."),
            field="member_phone",
        )
    return found[0]


def _find_visit(request, pk, member):
    if not pk:
        return None
    from appointments.models import Visit
    from clinic.selectors import scope_to_branches

    visit = scope_to_branches(Visit.objects.all(), request.user).filter(pk=pk).first()
    if visit is None:
        raise DomainError(_("There is no such visit at your branches."), field="visit")
    return visit


@require_http_methods(["GET", "POST"])
@permission_required(ADD_PERM, raise_exception=True)
def complaint_new(request: HttpRequest) -> HttpResponse:
    form = IntakeForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member = _find_member(request, data["member_phone"])
            complaint = services.complaint_receive(
                actor=request.user,
                branch=data["branch"],
                channel=data["channel"],
                received_at=data["received_at"] or None,
                member=member,
                contact_name=data["contact_name"],
                contact_phone=data["contact_phone"],
                subject=data["subject"],
                description=data["description"],
                expectation=data["expectation"],
                severity=data["severity"],
                category=data["category"],
                visit=_find_visit(request, data["visit"], member),
                staff=data["staff"],
                attachments=data["attachments"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Complaint %(number)s received.") % {"number": complaint.number})
            return redirect("complaints:detail", pk=complaint.pk)
    return render(request, "complaints/new.html", {"form": form})


def _detail_context(request, complaint, **forms) -> dict:
    user = request.user
    can_work = user.has_perm(WORK_PERM)
    status = complaint.status
    context = {
        "c": with_clock(complaint, timezone.now()),
        "events": complaint.events.select_related("actor__staff"),
        "pauses": complaint.pauses.all(),
        "escalations": complaint.escalations.all(),
        "attachments": complaint.attachments.all(),
        "make_goods": complaint.make_goods.select_related(
            "coupon_template", "requested_by__staff", "approved_by__staff"
        ),
        "can_work": can_work,
        "can_approve": user.has_perm("complaints.approve_makegood"),
        "can_review": user.has_perm("complaints.review_complaint") and complaint.reviewer_id == user.pk,
        "is_open": status in OPEN_STATUSES,
        "S": Status,
        "text_form": forms.get("text_form") or TextForm(),
        "note_form": forms.get("note_form") or OptionalTextForm(),
        "close_form": forms.get("close_form") or CloseForm(),
        "review_form": forms.get("review_form") or ReviewForm(),
        "make_good_form": forms.get("make_good_form") or MakeGoodForm(),
        "attach_form": AttachForm(),
        "review_request_form": ReviewRequestForm(complaint=complaint) if can_work else None,
        "pending": MakeGoodStatus.PENDING,
    }
    return context


@require_GET
def complaint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    complaint = get_complaint_for_user(request.user, pk)
    return render(request, "complaints/detail.html", _detail_context(request, complaint))


_SIMPLE = {
    "acknowledge": (services.complaint_acknowledge, "note"),
    "investigate": (services.complaint_investigate, "note"),
    "accept": (services.complaint_accept, "note"),
    "resolve": (services.complaint_resolve, "note"),
    "propose": (services.complaint_propose, "resolution"),
    "reject": (services.complaint_reject, "reason"),
    "reopen": (services.complaint_reopen, "reason"),
    "pause": (services.complaint_pause, "reason"),
    "resume": (services.complaint_resume, "note"),
}


@require_POST
def complaint_act(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    """One action of the complaint page (``step`` names the service)."""
    action = step
    review = action == "review"
    complaint = get_complaint_for_user(request.user, pk, write=not review)
    forms: dict = {}
    try:
        if action in _SIMPLE:
            service, arg = _SIMPLE[action]
            form = OptionalTextForm(request.POST) if arg == "note" else TextForm(request.POST)
            forms["text_form" if arg != "note" else "note_form"] = form
            if not form.is_valid():
                raise DomainError(_("Check the text you entered."))
            service(actor=request.user, complaint=complaint, **{arg: form.cleaned_data["text"]})
        elif action in ("note", "statement"):
            form = forms["text_form"] = TextForm(request.POST)
            if not form.is_valid():
                raise DomainError(_("Write the note first."))
            services.complaint_note_add(
                actor=request.user,
                complaint=complaint,
                text=form.cleaned_data["text"],
                statement=action == "statement",
            )
        elif action == "close":
            form = forms["close_form"] = CloseForm(request.POST)
            if not form.is_valid():
                raise DomainError(_("Fill in the closing review."))
            d = form.cleaned_data
            services.complaint_close(
                actor=request.user,
                complaint=complaint,
                satisfaction=d["satisfaction"],
                root_cause=d["root_cause"],
                corrective_action=d["corrective_action"],
                lessons=d["lessons"],
            )
        elif action == "request_review":
            form = ReviewRequestForm(request.POST, complaint=complaint)
            if not form.is_valid():
                raise DomainError(_("Choose a doctor who may review medical disputes."))
            services.complaint_request_review(
                actor=request.user, complaint=complaint, reviewer=form.cleaned_data["reviewer"]
            )
        elif action == "review":
            form = forms["review_form"] = ReviewForm(request.POST)
            if not form.is_valid():
                raise DomainError(_("Choose the finding and explain it."))
            services.complaint_review_record(
                actor=request.user,
                complaint=complaint,
                finding=form.cleaned_data["finding"],
                note=form.cleaned_data["text"],
            )
        elif action == "make_good":
            form = forms["make_good_form"] = MakeGoodForm(request.POST)
            if not form.is_valid():
                raise DomainError(_("Check the make-good."))
            d = form.cleaned_data
            services.make_good_request(
                actor=request.user,
                complaint=complaint,
                kind=d["kind"],
                coupon_template=d["coupon_template"],
                points=d["points"] or 0,
                amount=d["amount"],
                note=d["note"],
            )
        elif action == "attach":
            form = AttachForm(request.POST, request.FILES)
            if not form.is_valid():
                raise DomainError(_("Choose a file."))
            services.attachment_add(actor=request.user, complaint=complaint, upload=form.cleaned_data["file"])
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, exc.message)
        if forms:
            return render(
                request, "complaints/detail.html", _detail_context(request, complaint, **forms), status=400
            )
    else:
        messages.success(request, _("Saved."))
    return redirect("complaints:detail", pk=complaint.pk)


@require_POST
@permission_required("complaints.approve_makegood", raise_exception=True)
def make_good_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    make_good = MakeGood.objects.filter(pk=pk).first()
    if make_good is None:
        raise Http404
    complaint = get_complaint_for_user(request.user, make_good.complaint_id)
    try:
        if decision == "approve":
            services.make_good_approve(actor=request.user, make_good=make_good)
        elif decision == "reject":
            services.make_good_reject(
                actor=request.user, make_good=make_good, reason=request.POST.get("reason", "")
            )
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Saved."))
    return redirect("complaints:detail", pk=complaint.pk)


@require_GET
def attachment(request: HttpRequest, pk: int) -> FileResponse:
    """The file, after the complaint's scope check; the opening is audited."""
    from .models import Attachment

    att = Attachment.objects.filter(pk=pk).first()
    if att is None:
        raise Http404
    complaint = get_complaint_for_user(request.user, att.complaint_id)
    try:
        handle = att.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="complaints.attachment.viewed",
            target=complaint,
            changes={"name": att.original_name},
        )
    inline = att.content_type.startswith("image/") or att.content_type == "application/pdf"
    response = FileResponse(
        handle, content_type=att.content_type, as_attachment=not inline, filename=att.original_name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@permission_required(ANALYSIS_PERM, raise_exception=True)
def complaint_analysis(request: HttpRequest) -> HttpResponse:
    months = query_int(request, "months", minimum=1, maximum=36) or 12
    context = analysis.build(request.user, months=months)
    context["months"] = months
    return render(request, "complaints/analysis.html", context)
