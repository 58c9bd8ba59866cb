"""Event surveys (活动评价, issue 16): after a campaign ends (``CarePolicy.survey_delay_hours``
later) every person checked in at it gets a link with a signed token to a public phone page;
one answer per person and campaign; the survey reward once (loyalty's ``review_reward``, key
``event_survey:<invitation>``); a bad answer (any star ≤ 2 or NPS ≤ 6) makes a task for the
campaign branch's manager. The campaign page reads the score through marketing's registry
(``marketing.campaign_feedback``; registered in ``FollowupsConfig.ready``).

The mechanism is the visit survey's (``followups.surveys``): ``django.core.signing`` over the
invitation id and a random nonce with a timestamp, its own salt (a visit survey's token opens
no event survey), refused with a reason and never a 500; single use held by the database (the
answer is one-to-one with its invitation). The answers are kept apart from ``SurveyResponse``,
so the clinic's satisfaction KPI does not count them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clinic.services import audit_record
from marketing.campaign_feedback import FeedbackSummary
from marketing.models import Campaign, CampaignSignup, SignupStatus

from . import surveys
from .dormancy import care_policy
from .errors import FollowupError
from .models import EventSurveyInvitation, EventSurveyResponse, SurveyStatus, TaskKind
from .recall_notify import care_notify
from .services import task_create
from .surveys import answer_check, branch_manager, invitation_open, survey_reward

SALT = "followups.event_survey"
SCORES = ("overall_score", "content_score", "organisation_score")


def event_survey_token(invitation: EventSurveyInvitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=SALT, compress=True)


def event_survey_link(invitation: EventSurveyInvitation) -> str:
    base = getattr(settings, "PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
    return base + reverse("followups:event_survey", kwargs={"event_token": event_survey_token(invitation)})


@transaction.atomic
def event_survey_invite(*, signup: CampaignSignup) -> EventSurveyInvitation | None:
    """The event survey invitation of a person checked in at a campaign, made once
    (one-to-one with the sign-up); None for anyone who did not attend."""
    if signup.status != SignupStatus.ATTENDED:
        return None
    existing = EventSurveyInvitation.objects.filter(signup=signup).first()
    if existing is not None:
        return existing
    campaign = signup.campaign
    try:
        with transaction.atomic():
            return EventSurveyInvitation.objects.create(
                signup=signup,
                campaign=campaign,
                member_id=signup.member_id,
                branch_id=campaign.branch_id,
                nonce=secrets.token_hex(8),
                send_at=campaign.ends_at + dt.timedelta(hours=care_policy().survey_delay_hours),
            )
    except IntegrityError:  # a concurrent run made it first
        return EventSurveyInvitation.objects.get(signup=signup)


def event_surveys_invite(*, now: dt.datetime | None = None, days: int = 3) -> int:
    """Invitations for the attended of the campaigns that ended in the last ``days`` days and
    have none yet. Returns how many were made."""
    now = now or timezone.now()
    ended = Campaign.objects.filter(ends_at__lte=now, ends_at__gte=now - dt.timedelta(days=days))
    signups = (
        CampaignSignup.objects.filter(campaign__in=ended, status=SignupStatus.ATTENDED)
        .exclude(pk__in=EventSurveyInvitation.objects.filter(campaign__in=ended).values("signup_id"))
        .select_related("campaign")
    )
    made = 0
    for signup in signups.iterator(chunk_size=1000):
        made += event_survey_invite(signup=signup) is not None
    return made


def event_surveys_send_due(*, now: dt.datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """Send the invitations whose time has come. Each is claimed by a conditional update
    (pending → sent) so two runs never send one twice; the outbox dedupe key
    ``event_survey:<invitation>`` holds even if a run dies after queueing."""
    now = now or timezone.now()
    counts = {"sent": 0, "skipped": 0}
    due = EventSurveyInvitation.objects.filter(status=SurveyStatus.PENDING, send_at__lte=now).select_related(
        "member", "branch", "campaign", "signup"
    )[:limit]
    for inv in due:
        with transaction.atomic():
            claimed = EventSurveyInvitation.objects.filter(pk=inv.pk, status=SurveyStatus.PENDING).update(
                status=SurveyStatus.SENT, sent_at=now
            )
            if claimed != 1:
                continue
            if inv.signup.status != SignupStatus.ATTENDED:
                _skip(inv, "not attended")
                counts["skipped"] += 1
                continue
            with translation.override(inv.member.language or "zh-hans"):
                row = care_notify(
                    member=inv.member,
                    template_key="followups.event_survey",
                    params={
                        "name": inv.member.name,
                        "campaign": inv.campaign.name,
                        "branch": inv.branch.display_name,
                        "link": event_survey_link(inv),
                    },
                    dedupe_key=f"event_survey:{inv.pk}",
                )
            if row is None:
                _skip(inv, "not sent")
                counts["skipped"] += 1
            else:
                counts["sent"] += 1
    return counts


def _skip(inv: EventSurveyInvitation, note: str) -> None:
    EventSurveyInvitation.objects.filter(pk=inv.pk).update(status=SurveyStatus.SKIPPED, note=note)


def event_survey_open(token: str) -> EventSurveyInvitation:
    """The invitation a token names, or ``FollowupError`` with ``code`` invalid / expired /
    answered / closed."""
    return invitation_open(
        token,
        salt=SALT,
        invitations=EventSurveyInvitation.objects.select_related("member", "branch", "campaign", "signup"),
        answered=lambda inv: EventSurveyResponse.objects.filter(invitation=inv).exists(),
        closed=lambda inv: inv.signup.status != SignupStatus.ATTENDED,
    )


@dataclass(frozen=True)
class EventAnswer:
    overall_score: int
    content_score: int
    organisation_score: int
    nps: int
    comment: str = ""


def is_bad(answer: EventAnswer) -> bool:
    """The visit survey's rule over the event's three scores."""
    return surveys.is_bad(answer, SCORES)


@transaction.atomic
def event_survey_answer(*, token: str, answer: EventAnswer) -> EventSurveyResponse:
    """Record the one answer of a person's event survey, reward it once, alert the branch
    manager if it is bad. Audited ``followups.event_survey.answered``."""
    inv = event_survey_open(token)
    # The row lock serialises two submits of one link; the one-to-one answer is the last word.
    inv = (
        EventSurveyInvitation.objects.select_for_update()
        .select_related("member", "branch", "campaign")
        .get(pk=inv.pk)
    )
    if EventSurveyResponse.objects.filter(invitation=inv).exists():
        raise FollowupError(_("Thank you: this survey has already been answered."), code="answered")
    answer_check(answer, SCORES)
    bad = is_bad(answer)
    response = EventSurveyResponse.objects.create(
        invitation=inv,
        campaign_id=inv.campaign_id,
        member_id=inv.member_id,
        branch_id=inv.branch_id,
        **{f: getattr(answer, f) for f in SCORES},
        nps=answer.nps,
        comment=(answer.comment or "")[:2000],
        is_bad=bad,
    )
    EventSurveyInvitation.objects.filter(pk=inv.pk).update(status=SurveyStatus.ANSWERED)
    response.points = survey_reward(member=inv.member, source_key=f"event_survey:{inv.pk}")
    if response.points:
        response.save(update_fields=["points"])
    audit_record(
        actor=None,
        action="followups.event_survey.answered",
        target=response,
        changes={"campaign": inv.campaign_id, "bad": bad, "nps": answer.nps, "points": response.points},
    )
    if bad:
        _alert_manager(inv, response)
    return response


def _alert_manager(inv: EventSurveyInvitation, response: EventSurveyResponse) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        script = _("Scores: overall %(o)s, content %(c)s, organisation %(g)s; NPS %(n)s.") % {
            "o": response.overall_score,
            "c": response.content_score,
            "g": response.organisation_score,
            "n": response.nps,
        }
        if response.comment:
            script += "\n" + response.comment
        title = _("Unhappy event survey (%(campaign)s): call back") % {"campaign": inv.campaign.name}
    task_create(
        actor=None,
        member=inv.member,
        kind=TaskKind.SURVEY,
        title=title,
        due_on=timezone.localdate(),
        source_key=f"event_survey:{inv.pk}:bad",
        assignee=branch_manager(inv.campaign.branch_id),
        script=script,
    )


# --- the campaign's figures (marketing.campaign_feedback) ------------------------------------

SATISFIED = Q(overall_score__gte=4, content_score__gte=4, organisation_score__gte=4)


def campaign_feedback_summary(campaign: Campaign) -> FeedbackSummary:
    """Answers, the average overall score (one decimal) and the share of satisfied answers
    (every star 4 or 5, 0–1) of one campaign's event survey."""
    r = EventSurveyResponse.objects.filter(campaign=campaign).aggregate(
        answers=Count("id"), satisfied=Count("id", filter=SATISFIED), avg=Avg("overall_score")
    )
    n = r["answers"] or 0
    if not n:
        return FeedbackSummary()
    return FeedbackSummary(
        answers=n,
        score_avg=Decimal(str(r["avg"])).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
        satisfied_rate=(Decimal(r["satisfied"]) / n).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
    )


# --- the member's own event surveys (the H5 portal) ---------------------------------------------


def member_event_surveys_pending(member_id: int, *, now: dt.datetime | None = None):
    """The person's event surveys still open to answer: invited (sent, or due to be sent),
    not answered, still attended, within the link's validity."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=care_policy().survey_valid_days)
    return (
        EventSurveyInvitation.objects.filter(
            member_id=member_id,
            status__in=(SurveyStatus.PENDING, SurveyStatus.SENT),
            signup__status=SignupStatus.ATTENDED,
            created_at__gte=since,
        )
        .exclude(response__isnull=False)
        .select_related("branch", "campaign")
        .order_by("-created_at", "-id")
    )


def member_event_survey_answer(
    *, actor, invitation: EventSurveyInvitation, answer: EventAnswer
) -> EventSurveyResponse:
    """The member answers their own event survey in the portal: the same one answer, reward
    and bad-answer alarm as the link in the message (``event_survey_answer``)."""
    from members.actors import is_member_actor

    if not is_member_actor(actor) or actor.member.pk != invitation.member_id:
        raise FollowupError(_("This survey is not yours."), code="invalid")
    return event_survey_answer(token=event_survey_token(invitation), answer=answer)
