"""The work list (客服工作台) and working a task. Thin: bind the form, call one service,
turn a ``DomainError`` into a form error or a message, redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.errors import DomainError
from clinic.params import query_int

from . import task_services
from . import worklist as wl
from .models import AttemptOutcome, TaskStatus
from .plan_forms import AttemptForm, BulkReassignForm, CloseForm, ReassignForm, SmsForm, WorklistFilterForm
from .task_services import NextStep
from .worklist import REASSIGN_PERM, VIEW_PERM, WORK_PERM, Tab


def _form_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _tab(request: HttpRequest) -> str:
    tab = request.GET.get("tab", "")
    if tab in Tab.ALL:
        return tab
    return Tab.TODAY if request.user.has_perm(WORK_PERM) else Tab.TEAM


@require_GET
@permission_required(VIEW_PERM, raise_exception=True)
def worklist(request: HttpRequest) -> HttpResponse:
    tab = _tab(request)
    form = WorklistFilterForm(request.GET or None, user=request.user)
    page = wl.worklist_page(
        request.user, tab=tab, page=query_int(request, "page", maximum=10_000) or 1, **form.filters()
    )
    query = {k: v for k, v in request.GET.items() if k not in ("page",) and v}
    context = {
        "tab": tab,
        "tabs": [
            (Tab.TODAY, _("Due today")),
            (Tab.OVERDUE, _("Overdue")),
            (Tab.MINE, _("Mine")),
            (Tab.TEAM, _("My team")),
            (Tab.ESCALATED, _("Escalated")),
        ],
        "counts": wl.tab_counts(request.user),
        "form": form,
        "page": page,
        "today": timezone.localdate(),
        "query": urlencode({k: v for k, v in query.items() if k != "tab"}),
        "page_query": urlencode(query),
        "can_reassign": request.user.has_perm(REASSIGN_PERM),
        "bulk_form": BulkReassignForm(user=request.user) if request.user.has_perm(REASSIGN_PERM) else None,
    }
    template = "followups/worklist.html#rows" if request.htmx else "followups/worklist.html"
    return render(request, template, context)


def _detail_context(request: HttpRequest, task, **forms) -> dict:
    user = request.user
    can_work = user.has_perm(WORK_PERM) and task.status == TaskStatus.OPEN
    context = {
        "task": task,
        "attempts": list(wl.task_attempts(task)),
        "earlier": wl.earlier_tasks(user, task),
        "contacts": wl.recent_contacts(task) if user.has_perm("members.view_member") else [],
        "can_work": can_work,
        "can_reassign": user.has_perm(REASSIGN_PERM) and task.status == TaskStatus.OPEN,
        "can_book": user.has_perm("appointments.add_appointment"),
        "today": timezone.localdate(),
        "max_attempts": task_services.max_attempts(),
    }
    if can_work:
        context["attempt_form"] = forms.get("attempt_form") or AttemptForm(
            initial={"outcome": AttemptOutcome.REACHED, "next_title": task.title}
        )
        context["sms_form"] = forms.get("sms_form") or SmsForm()
        context["close_form"] = forms.get("close_form") or CloseForm()
    if context["can_reassign"]:
        context["reassign_form"] = forms.get("reassign_form") or ReassignForm(
            branch=task.branch, initial={"assignee": task.assignee_id}
        )
    return context


@require_GET
@permission_required(VIEW_PERM, raise_exception=True)
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = wl.get_task_for_user(request.user, pk)
    return render(request, "followups/worklist_task.html", _detail_context(request, task))


@require_POST
@permission_required(WORK_PERM, raise_exception=True)
def task_attempt(request: HttpRequest, pk: int) -> HttpResponse:
    task = wl.get_task_for_user(request.user, pk, write=True)
    form = AttemptForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            task_services.task_attempt_record(actor=request.user, task=task, **data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Recorded: %(task)s.") % {"task": task.title})
            if data["next_step"] == NextStep.BOOK and request.user.has_perm("appointments.add_appointment"):
                return redirect(f"{reverse('appointments:book')}?{urlencode({'member': task.member_id})}")
            return redirect("followups:task", pk=task.pk)
    task = wl.get_task_for_user(request.user, pk)
    return render(
        request, "followups/worklist_task.html", _detail_context(request, task, attempt_form=form), status=400
    )


@require_POST
@permission_required(REASSIGN_PERM, raise_exception=True)
def task_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    task = wl.get_task_for_user(request.user, pk, write=True, perm=REASSIGN_PERM)
    form = ReassignForm(request.POST, branch=task.branch)
    if form.is_valid():
        try:
            task_services.task_reassign(actor=request.user, task=task, assignee=form.cleaned_data["assignee"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Reassigned."))
    else:
        messages.error(request, _("Choose whom to give the task to."))
    return redirect("followups:task", pk=task.pk)


@require_POST
@permission_required(REASSIGN_PERM, raise_exception=True)
def bulk_reassign(request: HttpRequest) -> HttpResponse:
    form = BulkReassignForm(request.POST, user=request.user)
    ids = form.task_ids()
    if not form.is_valid() or not ids:
        messages.error(request, _("Tick the tasks and choose whom to give them to."))
    else:
        try:
            n = task_services.tasks_bulk_reassign(
                actor=request.user, task_ids=ids, assignee=form.cleaned_data["assignee"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(n)s tasks reassigned.") % {"n": n})
    back = request.POST.get("back", "")
    return redirect(
        f"{reverse('followups:worklist')}?{back}" if back.startswith("tab=") else "followups:worklist"
    )


@require_POST
@permission_required(WORK_PERM, raise_exception=True)
def task_sms(request: HttpRequest, pk: int) -> HttpResponse:
    task = wl.get_task_for_user(request.user, pk, write=True)
    form = SmsForm(request.POST)
    if form.is_valid():
        try:
            row = task_services.task_sms_send(
                actor=request.user, task=task, template_key=form.cleaned_data["template"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if row.was_created:
                messages.success(request, _("The message is queued."))
            else:
                messages.info(request, _("This message was already sent today."))
    else:
        messages.error(request, _("Choose a message."))
    return redirect("followups:task", pk=task.pk)


@require_POST
@permission_required(WORK_PERM, raise_exception=True)
def task_close(request: HttpRequest, pk: int) -> HttpResponse:
    task = wl.get_task_for_user(request.user, pk, write=True)
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            task_services.task_close(actor=request.user, task=task, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The task is closed."))
            return redirect("followups:worklist")
    else:
        messages.error(request, _("Say why the task is closed."))
    return redirect("followups:task", pk=task.pk)
