"""Staff pages of recall and satisfaction: the recalls due in a month (branch-scoped), a
due date set by hand, and satisfaction per doctor for a month."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.selectors import scope_to_branches

from .errors import FollowupError
from .models import Recall, SurveyResponse
from .recall import recall_set_due
from .recall_forms import RecallDueForm, RecallFilterForm, SatisfactionFilterForm
from .surveys import TARGET_RATE, satisfaction_rows, satisfaction_total


def recalls_for_user(user):
    return scope_to_branches(Recall.objects.filter(is_active=True), user).select_related(
        "member", "recall_type", "branch"
    )


def get_recall_for_user(user, pk: int, *, write: bool = False) -> Recall:
    """404 outside the user's branches, 403 when visible but not theirs to change."""
    recall = recalls_for_user(user).filter(pk=pk).first()
    if recall is None:
        raise Http404
    if write and not user.has_perm("followups.set_recall_due"):
        raise PermissionDenied
    return recall


@require_GET
@permission_required("followups.view_recall", raise_exception=True)
def recall_list(request: HttpRequest) -> HttpResponse:
    form = RecallFilterForm(request.GET or None)
    f = form.filters()
    qs = recalls_for_user(request.user).filter(due_on__gte=f["start"], due_on__lt=f["end"])
    if f["recall_type"] is not None:
        qs = qs.filter(recall_type=f["recall_type"])
    page = Paginator(qs.order_by("due_on", "pk"), 50).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "start": f["start"],
        "due_form": RecallDueForm(),
        "can_set": request.user.has_perm("followups.set_recall_due"),
    }
    return render(request, "followups/recall_list.html", context)


@require_POST
@permission_required("followups.view_recall", raise_exception=True)
def recall_due_set(request: HttpRequest, pk: int) -> HttpResponse:
    recall = get_recall_for_user(request.user, pk, write=True)
    form = RecallDueForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("followups:recall_list")
    try:
        recall_set_due(
            actor=request.user,
            recall=recall,
            due_on=form.cleaned_data["due_on"],
            reason=form.cleaned_data["reason"],
        )
    except FollowupError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The recall date is set and will be kept."))
    return redirect("followups:recall_list")


@require_GET
@permission_required("followups.view_satisfaction", raise_exception=True)
def satisfaction(request: HttpRequest) -> HttpResponse:
    form = SatisfactionFilterForm(request.GET or None)
    start = form.month_start()
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    answers = scope_to_branches(SurveyResponse.objects.all(), request.user).filter(
        visit_on__gte=start, visit_on__lt=end
    )
    context = {
        "form": form,
        "start": start,
        "rows": satisfaction_rows(answers),
        "total": satisfaction_total(answers),
        "target": TARGET_RATE,
        "bad": answers.filter(is_bad=True)
        .select_related("member", "doctor__staff")
        .order_by("-answered_at")[:20],
    }
    return render(request, "followups/recall_satisfaction.html", context)
