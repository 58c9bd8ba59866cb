"""The public survey pages, of a visit and of an event (no log-in: the signed token is the
key)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .errors import FollowupError
from .recall_forms import SurveyForm
from .surveys import survey_answer, survey_open

_STATUS = {"invalid": 400, "expired": 410, "answered": 200, "closed": 410}


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        inv = survey_open(token)
    except FollowupError as exc:
        return _closed(request, exc)
    # The page speaks the person's language, whatever the browser's session says.
    with translation.override(inv.member.language or "zh-hans"):
        form = SurveyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                response = survey_answer(
                    token=token,
                    answer=form.answer(),
                )
            except FollowupError as exc:
                if exc.field:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                else:
                    return _closed(request, exc)
            else:
                return render(request, "followups/survey_thanks.html", {"response": response, "inv": inv})
        return render(request, "followups/survey_page.html", {"form": form, "inv": inv})


def _closed(
    request: HttpRequest, exc: FollowupError, *, template: str = "followups/survey_closed.html"
) -> HttpResponse:
    return render(
        request,
        template,
        {"message": exc.message, "code": exc.code},
        status=_STATUS.get(exc.code, 400),
    )


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def event_survey(request: HttpRequest, event_token: str) -> HttpResponse:
    """The event survey a person opens from the message after a campaign (活动评价)."""
    from .event_surveys import event_survey_answer, event_survey_open
    from .recall_forms import EventSurveyForm

    try:
        inv = event_survey_open(event_token)
    except FollowupError as exc:
        return _closed(request, exc, template="followups/event_survey_closed.html")
    with translation.override(inv.member.language or "zh-hans"):
        form = EventSurveyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                response = event_survey_answer(
                    token=event_token,
                    answer=form.answer(),
                )
            except FollowupError as exc:
                if exc.field:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                else:
                    return _closed(request, exc, template="followups/event_survey_closed.html")
            else:
                return render(
                    request, "followups/event_survey_thanks.html", {"response": response, "inv": inv}
                )
        return render(request, "followups/event_survey_page.html", {"form": form, "inv": inv})
