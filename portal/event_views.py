"""Events and surveys in the portal: upcoming campaigns to sign up for or cancel (the same
capacity and waiting list as staff sign-up, channel H5), the QR ticket staff scan at the
door, and the surveys still open to answer: of a visit (satisfaction) and of an event attended
(followups.event_surveys), both answered here the same way as through the message's link."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from followups import event_surveys, surveys
from followups.errors import FollowupError
from followups.recall_forms import EventSurveyForm, SurveyForm
from loyalty.qr import qr_svg
from marketing import campaigns
from marketing.errors import MarketingError
from marketing.models import CampaignSignup, SignupStatus

from .auth import member_required
from .session import PortalActor


@member_required
@require_GET
def events(request):
    person = request.portal.member
    rows = list(campaigns.member_campaigns(person)[:50])
    mine = {
        s.campaign_id: s
        for s in CampaignSignup.objects.filter(member=person, campaign__in=[c.pk for c in rows])
    }
    now = timezone.now()
    for c in rows:
        c.my_signup = mine.get(c.pk)
        c.started = c.starts_at <= now
        c.places_left = None
        if c.capacity:
            c.places_left = max(0, c.capacity - c.taken)
    return render(request, "portal/events.html", {"nav": "events", "rows": rows, "person": person})


@member_required
@require_POST
def event_signup(request, pk: int):
    person = request.portal.member
    campaign = get_object_or_404(campaigns.member_campaigns(person), pk=pk)
    try:
        signup = campaigns.member_signup_create(actor=PortalActor(person), campaign=campaign, member=person)
    except MarketingError as exc:
        messages.error(request, exc.message)
        return redirect("portal:events")
    if signup.status == SignupStatus.WAITING:
        messages.warning(
            request,
            _("The event is full: you are on the waiting list. We will tell you if a place frees up."),
        )
        return redirect("portal:events")
    messages.success(request, _("You are signed up. Show your ticket at the door."))
    return redirect("portal:event_ticket", pk=campaign.pk)


@member_required
@require_POST
def event_cancel(request, pk: int):
    person = request.portal.member
    signup = get_object_or_404(
        CampaignSignup.objects.select_related("campaign"), campaign_id=pk, member=person
    )
    try:
        campaigns.member_signup_cancel(actor=PortalActor(person), signup=signup)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your sign-up is cancelled."))
    return redirect("portal:events")


@member_required
@require_GET
def event_ticket(request, pk: int):
    """The ticket of the member's own confirmed sign-up: the QR staff scan at the door."""
    person = request.portal.member
    signup = get_object_or_404(
        CampaignSignup.objects.select_related("campaign__branch"),
        campaign_id=pk,
        member=person,
        status__in=(SignupStatus.CONFIRMED, SignupStatus.ATTENDED, SignupStatus.WAITING),
    )
    code = campaigns.ticket_code(signup)
    svg = qr_svg(code, title=_("Event ticket")).decode()
    return render(
        request,
        "portal/event_ticket.html",
        {"nav": "events", "signup": signup, "campaign": signup.campaign, "code": code, "qr": mark_safe(svg)},
    )


@member_required
@require_GET
def survey_list(request):
    person = request.portal.member
    rows = list(surveys.member_surveys_pending(person.pk)[:20])
    events = list(event_surveys.member_event_surveys_pending(person.pk)[:20])
    return render(request, "portal/surveys.html", {"nav": "me", "rows": rows, "events": events})


@member_required
@require_http_methods(["GET", "POST"])
def survey_answer(request, pk: int):
    person = request.portal.member
    inv = get_object_or_404(surveys.member_surveys_pending(person.pk), pk=pk)
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            response = surveys.member_survey_answer(
                actor=PortalActor(person),
                invitation=inv,
                answer=form.answer(),
            )
        except FollowupError as exc:
            if exc.field and exc.field in form.fields:
                form.add_error(exc.field, exc.message)
            else:
                messages.error(request, exc.message)
                return redirect("portal:surveys")
        else:
            _thank(request, response.points)
            return redirect("portal:surveys")
    return render(request, "portal/survey.html", {"nav": "me", "inv": inv, "form": form})


@member_required
@require_http_methods(["GET", "POST"])
def event_survey_answer(request, pk: int):
    person = request.portal.member
    inv = get_object_or_404(event_surveys.member_event_surveys_pending(person.pk), pk=pk)
    form = EventSurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            response = event_surveys.member_event_survey_answer(
                actor=PortalActor(person),
                invitation=inv,
                answer=form.answer(),
            )
        except FollowupError as exc:
            if exc.field and exc.field in form.fields:
                form.add_error(exc.field, exc.message)
            else:
                messages.error(request, exc.message)
                return redirect("portal:surveys")
        else:
            _thank(request, response.points)
            return redirect("portal:surveys")
    return render(request, "portal/event_survey.html", {"nav": "me", "inv": inv, "form": form})


def _thank(request, points: int) -> None:
    if points:
        messages.success(
            request, _("Thank you for your answer: %(points)s points are added.") % {"points": points}
        )
    else:
        messages.success(request, _("Thank you for your answer."))
