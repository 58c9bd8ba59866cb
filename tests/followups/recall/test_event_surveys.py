"""Event surveys (活动评价, issue 16): the attended of an ended campaign invited once, sent
once by a claimed send, a signed single-use link to a public page, the reward once, a bad
answer a task for the branch manager, and the campaign's feedback score through marketing's
registry (kept apart from the visit survey's satisfaction KPI)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import signing
from django.urls import reverse

from clinic.models import AuditLog, JobHeartbeat
from clinic.notifications.models import Outbox
from followups import event_surveys, recall_tasks, surveys
from followups.errors import FollowupError
from followups.models import (
    EventSurveyInvitation,
    EventSurveyResponse,
    SurveyResponse,
    SurveyStatus,
    Task,
    TaskKind,
)
from loyalty.models import PointsEntry
from loyalty.services import membership_enrol
from marketing import campaign_feedback, campaigns
from marketing.campaign_selectors import campaign_results
from marketing.models import CampaignKind, SignupStatus
from tests.conftest import login
from tests.members.factories import make_member

from .conftest import local

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 12, 7)
GOOD = event_surveys.EventAnswer(overall_score=5, content_score=4, organisation_score=5, nps=9)


@pytest.fixture
def event(branch, marketer, front_desk, person, clock):
    """A talk on DAY 14:00–16:00: 张三 (a member) and 李四 came, 王五 signed up and did not."""
    clock.go(DAY, 9)
    campaign = campaigns.campaign_create(
        actor=marketer,
        branch=branch,
        name="儿童护牙讲座",
        kind=CampaignKind.TALK,
        starts_at=local(DAY, 14),
        ends_at=local(DAY, 16),
    )
    membership_enrol(actor=None, member=person, branch=branch, welcome_points=0)
    second = make_member(branch, name="李四", phone="13900002222")
    absent = make_member(branch, name="王五", phone="13900003333")
    for who in (person, second, absent):
        campaigns.signup_create(actor=marketer, campaign=campaign, member=who)
    clock.go(DAY, 14, 5)
    for who in (person, second):
        campaigns.checkin(actor=front_desk, campaign=campaign, member=who)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def invited(event, clock):
    clock.go(DAY, 16, 30)
    event_surveys.event_surveys_invite()
    return EventSurveyInvitation.objects.get(campaign=event, member__name="张三")


def test_only_the_attended_of_an_ended_campaign_are_invited_once(event, clock):
    assert event_surveys.event_surveys_invite() == 0  # not over yet
    clock.go(DAY, 16, 30)
    assert event_surveys.event_surveys_invite() == 2
    assert event_surveys.event_surveys_invite() == 0
    rows = EventSurveyInvitation.objects.filter(campaign=event)
    assert sorted(rows.values_list("member__name", flat=True)) == ["张三", "李四"]
    assert {r.send_at for r in rows} == {event.ends_at + dt.timedelta(hours=2)}
    assert {r.branch_id for r in rows} == {event.branch_id}
    absent = event.signups.get(member__name="王五")
    assert absent.status == SignupStatus.CONFIRMED
    assert event_surveys.event_survey_invite(signup=absent) is None
    attended = event.signups.get(member__name="张三")
    assert event_surveys.event_survey_invite(signup=attended).pk == rows.get(member__name="张三").pk
    clock.go(DAY + dt.timedelta(days=4), 10)  # past the job's window: an old campaign is left alone
    EventSurveyInvitation.objects.all().delete()
    assert event_surveys.event_surveys_invite() == 0


def test_the_due_invitations_are_claimed_and_sent_once(invited, clock):
    assert event_surveys.event_surveys_send_due() == {"sent": 0, "skipped": 0}  # 16:30, due 18:00
    clock.go(DAY, 18, 5)
    assert event_surveys.event_surveys_send_due() == {"sent": 2, "skipped": 0}
    assert event_surveys.event_surveys_send_due() == {"sent": 0, "skipped": 0}
    invited.refresh_from_db()
    assert invited.status == SurveyStatus.SENT and invited.sent_at is not None
    rows = Outbox.objects.filter(template_key="followups.event_survey")
    assert rows.count() == 2
    row = rows.get(dedupe_key=f"event_survey:{invited.pk}")
    assert "/followups/event-survey/" in row.params["link"] and row.params["campaign"] == "儿童护牙讲座"


def test_a_run_that_loses_the_claim_sends_nothing(invited, clock, monkeypatch):
    """Two runs at once: while this one sends the first invitation, another claims and sends
    the second; this run's conditional update then changes no row, so it sends nothing."""
    clock.go(DAY, 18, 5)
    real = event_surveys.care_notify
    state = {"inner": None}

    def notify_while_another_run_goes(**kwargs):
        if state["inner"] is None:
            state["inner"] = {}
            state["inner"] = event_surveys.event_surveys_send_due()
        return real(**kwargs)

    monkeypatch.setattr(event_surveys, "care_notify", notify_while_another_run_goes)
    outer = event_surveys.event_surveys_send_due()
    assert (outer, state["inner"]) == ({"sent": 1, "skipped": 0}, {"sent": 1, "skipped": 0})
    assert Outbox.objects.filter(template_key="followups.event_survey").count() == 2


def test_the_beat_job_invites_and_sends(event, clock):
    assert settings.CELERY_BEAT_SCHEDULE["followups-event-surveys-send"]["task"] == (
        "followups.recall_tasks.event_surveys_send"
    )
    clock.go(DAY, 18, 5)
    assert recall_tasks.event_surveys_send.apply().get() == {"invited": 2, "sent": 2, "skipped": 0}
    assert recall_tasks.event_surveys_send.apply().get() == {"invited": 0, "sent": 0, "skipped": 0}
    assert JobHeartbeat.objects.get(name="followups.event_surveys_send").runs == 2


def test_an_answer_is_kept_once_rewarded_once_and_kept_out_of_the_satisfaction_kpi(invited):
    token = event_surveys.event_survey_token(invited)
    response = event_surveys.event_survey_answer(token=token, answer=GOOD)
    assert (response.points, response.is_bad, response.campaign_id) == (50, False, invited.campaign_id)
    key = f"review:event_survey:{invited.pk}:points"
    assert PointsEntry.objects.filter(idempotency_key=key).count() == 1
    with pytest.raises(FollowupError) as err:
        event_surveys.event_survey_answer(token=token, answer=GOOD)
    assert err.value.code == "answered"
    assert EventSurveyResponse.objects.count() == 1 and not SurveyResponse.objects.exists()
    invited.refresh_from_db()
    assert invited.status == SurveyStatus.ANSWERED
    assert AuditLog.objects.filter(action="followups.event_survey.answered").count() == 1
    assert not Task.objects.filter(kind=TaskKind.SURVEY).exists()
    bad = event_surveys.EventAnswer(overall_score=6, content_score=4, organisation_score=4, nps=9)
    other = EventSurveyInvitation.objects.get(member__name="李四")
    with pytest.raises(FollowupError) as err:  # out of range: refused, nothing kept
        event_surveys.event_survey_answer(token=event_surveys.event_survey_token(other), answer=bad)
    assert err.value.field == "overall_score" and EventSurveyResponse.objects.count() == 1


def test_a_bad_answer_makes_a_task_for_the_campaign_branch_manager(invited, manager):
    response = event_surveys.event_survey_answer(
        token=event_surveys.event_survey_token(invited),
        answer=event_surveys.EventAnswer(
            overall_score=4, content_score=4, organisation_score=2, nps=8, comment="签到排队太久"
        ),
    )
    assert response.is_bad
    task = Task.objects.get(kind=TaskKind.SURVEY)
    assert (task.assignee, task.source_key, task.member_id) == (
        manager,
        f"event_survey:{invited.pk}:bad",
        invited.member_id,
    )
    assert "签到排队太久" in task.script and "儿童护牙讲座" in task.title


@pytest.mark.parametrize(
    ("scores", "nps", "bad"),
    [((3, 3, 3), 7, False), ((1, 5, 5), 10, True), ((5, 5, 5), 6, True), ((4, 4, 4), 7, False)],
)
def test_what_counts_as_bad(scores, nps, bad):
    o, c, g = scores
    answer = event_surveys.EventAnswer(overall_score=o, content_score=c, organisation_score=g, nps=nps)
    assert event_surveys.is_bad(answer) is bad


def test_forged_altered_foreign_and_expired_tokens_are_refused_with_a_reason(invited, clock):
    token = event_surveys.event_survey_token(invited)
    for bad in (
        "",
        "nonsense",
        token[:-2] + "xx",
        signing.dumps({"i": invited.pk, "n": "wrong"}, salt=event_surveys.SALT),
        signing.dumps({"i": invited.pk, "n": invited.nonce}, salt=surveys.SALT),  # a visit survey's
        signing.dumps({"i": invited.pk, "n": invited.nonce}),
    ):
        with pytest.raises(FollowupError) as err:
            event_surveys.event_survey_open(bad)
        assert err.value.code == "invalid"
    clock.go(DAY + dt.timedelta(days=8), 10)
    with pytest.raises(FollowupError) as err:
        event_surveys.event_survey_open(token)
    assert err.value.code == "expired"


def test_campaign_feedback_counts_the_answers_of_the_campaign(invited, branch, front_desk, clock):
    assert campaign_results(invited.campaign).feedback == campaign_feedback.FeedbackSummary()
    third = make_member(branch, name="赵六", phone="13900004444")
    campaigns.checkin(actor=front_desk, campaign=invited.campaign, member=third)
    event_surveys.event_surveys_invite()
    answers = {
        "张三": (5, 5, 5, 10),
        "李四": (4, 4, 3, 8),
        "赵六": (2, 3, 4, 5),
    }
    for inv in EventSurveyInvitation.objects.filter(campaign=invited.campaign).select_related("member"):
        o, c, g, n = answers[inv.member.name]
        event_surveys.event_survey_answer(
            token=event_surveys.event_survey_token(inv),
            answer=event_surveys.EventAnswer(overall_score=o, content_score=c, organisation_score=g, nps=n),
        )
    summary = campaign_results(invited.campaign).feedback
    assert summary == campaign_feedback.FeedbackSummary(
        answers=3, score_avg=Decimal("3.7"), satisfied_rate=Decimal("0.3333")
    )


def test_with_no_source_registered_the_feedback_is_empty(invited):
    event_surveys.event_survey_answer(token=event_surveys.event_survey_token(invited), answer=GOOD)
    source = campaign_feedback.feedback_source()
    assert source is event_surveys.campaign_feedback_summary  # FollowupsConfig.ready
    campaign_feedback.register_feedback_source(None)
    try:
        assert campaign_feedback.campaign_feedback(invited.campaign) == campaign_feedback.EMPTY
    finally:
        campaign_feedback.register_feedback_source(source)
    assert campaign_feedback.campaign_feedback(invited.campaign).answers == 1


def test_the_public_page_needs_no_login_and_answers_once(invited, client, clock):
    url = reverse("followups:event_survey", kwargs={"event_token": event_surveys.event_survey_token(invited)})
    page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200 and 'data-testid="survey-form"' in text and "儿童护牙讲座" in text
    assert 'name="tags"' not in text
    missing = client.post(url, {"overall_score": "5"})
    assert missing.status_code == 200 and not EventSurveyResponse.objects.exists()
    data = {
        "overall_score": "5",
        "content_score": "4",
        "organisation_score": "5",
        "nps": "10",
        "comment": "很好",
    }
    done = client.post(url, data)
    assert done.status_code == 200 and "survey-thanks" in done.content.decode()
    again = client.get(url)
    assert again.status_code == 200 and 'data-code="answered"' in again.content.decode()
    assert client.post(url, data).status_code == 200 and EventSurveyResponse.objects.count() == 1
    forged = client.get(reverse("followups:event_survey", kwargs={"event_token": "abc:def"}))
    assert forged.status_code == 400 and 'data-code="invalid"' in forged.content.decode()
    visit_token = signing.dumps({"i": invited.pk, "n": invited.nonce}, salt=surveys.SALT, compress=True)
    foreign = client.get(reverse("followups:event_survey", kwargs={"event_token": visit_token}))
    assert foreign.status_code == 400
    other = EventSurveyInvitation.objects.get(member__name="李四")
    later = reverse("followups:event_survey", kwargs={"event_token": event_surveys.event_survey_token(other)})
    clock.go(DAY + dt.timedelta(days=8), 10)
    expired = client.get(later)
    assert expired.status_code == 410 and 'data-code="expired"' in expired.content.decode()
    assert "no-store" in expired.get("Cache-Control", "")


def test_the_campaign_page_shows_the_feedback_score(invited, marketer, outsider):
    page = login(marketer).get(reverse("marketing:campaign_detail", args=[invited.campaign_id]))
    assert page.status_code == 200
    assert page.context["results"].feedback.answers == 0
    event_surveys.event_survey_answer(token=event_surveys.event_survey_token(invited), answer=GOOD)
    other = EventSurveyInvitation.objects.get(member__name="李四")
    event_surveys.event_survey_answer(
        token=event_surveys.event_survey_token(other),
        answer=event_surveys.EventAnswer(overall_score=4, content_score=3, organisation_score=4, nps=7),
    )
    html = (
        login(marketer).get(reverse("marketing:campaign_detail", args=[invited.campaign_id])).content.decode()
    )
    score = html.split('data-testid="campaign-feedback-score"', 1)[1].split("</tr>", 1)[0]
    assert "4.5 / 5" in score and "★" in score
    satisfied = html.split('data-testid="campaign-feedback-satisfied"', 1)[1].split("</tr>", 1)[0]
    assert "50%" in satisfied
    answers = html.split('data-testid="campaign-feedback-answers"', 1)[1].split("</tr>", 1)[0]
    assert ">2<" in answers
    assert (
        login(outsider).get(reverse("marketing:campaign_detail", args=[invited.campaign_id])).status_code
        == 404
    )


def test_the_member_sees_and_answers_their_pending_event_survey(invited, person, branch):
    from members.actors import member_actor

    assert list(event_surveys.member_event_surveys_pending(person.pk)) == [invited]
    stranger = make_member(branch, name="路人", phone="13900009999")
    assert not event_surveys.member_event_surveys_pending(stranger.pk).exists()
    with pytest.raises(FollowupError):
        event_surveys.member_event_survey_answer(
            actor=member_actor(stranger), invitation=invited, answer=GOOD
        )
    response = event_surveys.member_event_survey_answer(
        actor=member_actor(person), invitation=invited, answer=GOOD
    )
    assert response.points == 50
    assert not event_surveys.member_event_surveys_pending(person.pk).exists()
    assert not surveys.member_surveys_pending(person.pk).exists()  # the visit surveys stay apart
