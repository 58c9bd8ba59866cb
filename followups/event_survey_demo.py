"""The demo's event survey answers (``seed_demo``, after the campaigns' demo): the member day
held ten days ago gets its attended invited, four of them answer (so the campaign page shows a
feedback score), and the others, the portal's demo member 张伟 first among them, still have it
to answer. Idempotent: one invitation per sign-up, one answer per invitation."""

from __future__ import annotations

from django.db import transaction

from marketing.campaign_demo import PAST
from marketing.models import Campaign, SignupStatus

from .event_surveys import EventAnswer, event_survey_answer, event_survey_invite, event_survey_token
from .models import EventSurveyInvitation, EventSurveyResponse

ANSWERS = [
    EventAnswer(
        overall_score=5, content_score=5, organisation_score=4, nps=10, comment="讲解很细，抽奖也有意思。"
    ),
    EventAnswer(overall_score=4, content_score=4, organisation_score=5, nps=9),
    EventAnswer(overall_score=5, content_score=4, organisation_score=4, nps=8),
    EventAnswer(overall_score=3, content_score=4, organisation_score=3, nps=7, comment="签到排队有点久。"),
]


@transaction.atomic
def seed_event_surveys(*, branches=None) -> dict[str, int]:
    made = {"invited": 0, "answered": 0}
    campaign = Campaign.objects.filter(name=PAST).first()
    if campaign is None:
        return made
    invitations = []
    for signup in campaign.signups.filter(status=SignupStatus.ATTENDED).order_by("member_id", "pk"):
        existed = EventSurveyInvitation.objects.filter(signup=signup).exists()
        inv = event_survey_invite(signup=signup)
        if inv is not None:
            made["invited"] += not existed
            invitations.append(inv)
    # The first attendee (the portal's demo member in the demo) keeps theirs to answer.
    for inv, answer in zip(invitations[1:], ANSWERS, strict=False):
        if EventSurveyResponse.objects.filter(invitation=inv).exists():
            continue
        event_survey_answer(token=event_survey_token(inv), answer=answer)
        made["answered"] += 1
    return made


def demo_event_invitation(branch) -> EventSurveyInvitation | None:
    """An unanswered event survey invitation of ``branch`` (for the URL matrix)."""
    return EventSurveyInvitation.objects.filter(branch=branch, response__isnull=True).order_by("pk").first()
