"""Satisfaction surveys: invited after the delay, a signed single-use link to a public page,
one answer per visit, the reward once, bad answers alert the manager and signal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import signing
from django.urls import reverse

from clinic.models import AuditLog
from clinic.notifications.models import Outbox
from followups import surveys
from followups.errors import FollowupError
from followups.models import SurveyInvitation, SurveyResponse, SurveyStatus, Task, TaskKind
from followups.signals import survey_bad_answer
from loyalty.models import PointsEntry
from loyalty.services import membership_enrol
from tests.conftest import login

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 12, 7)
GOOD = surveys.Answer(
    doctor_score=5, front_desk_score=5, environment_score=4, waiting_score=4, nps=9, tags=("professional",)
)


@pytest.fixture
def invited(person, branch, cleaning, visit_on, clock):
    membership_enrol(actor=None, member=person, branch=branch, welcome_points=0)
    visit = visit_on(person, cleaning, DAY)
    inv = SurveyInvitation.objects.get(visit=visit)
    return inv


def test_a_checked_out_visit_is_invited_after_the_delay_once(invited, clock):
    assert invited.send_at == invited.visit.checked_out_at + dt.timedelta(hours=2)
    assert surveys.surveys_send_due() == {"sent": 0, "skipped": 0}  # not yet
    clock.go(DAY, 13, 5)
    assert surveys.surveys_send_due() == {"sent": 1, "skipped": 0}
    assert surveys.surveys_send_due() == {"sent": 0, "skipped": 0}
    row = Outbox.objects.get(template_key="followups.survey")
    assert reverse("followups:survey", kwargs={"token": "x"}).split("x")[0] in row.params["link"]
    invited.refresh_from_db()
    assert invited.status == SurveyStatus.SENT
    assert surveys.survey_invite(visit=invited.visit).pk == invited.pk


def test_an_answer_is_kept_once_and_rewarded_once(invited):
    token = surveys.survey_token(invited)
    response = surveys.survey_answer(token=token, answer=GOOD)
    assert (response.points, response.is_bad, response.tags) == (50, False, ["professional"])
    assert PointsEntry.objects.filter(idempotency_key=f"review:survey:{invited.pk}:points").count() == 1
    with pytest.raises(FollowupError) as err:
        surveys.survey_answer(token=token, answer=GOOD)
    assert err.value.code == "answered"
    assert SurveyResponse.objects.count() == 1
    assert AuditLog.objects.filter(action="followups.survey.answered").count() == 1


def test_forged_altered_and_expired_tokens_are_refused_with_a_reason(invited, clock):
    token = surveys.survey_token(invited)
    for bad in (
        "",
        "nonsense",
        token[:-2] + "xx",
        signing.dumps({"i": invited.pk, "n": "wrong"}, salt=surveys.SALT),
    ):
        with pytest.raises(FollowupError) as err:
            surveys.survey_open(bad)
        assert err.value.code == "invalid"
    with pytest.raises(FollowupError) as err:  # signed for another purpose
        surveys.survey_open(signing.dumps({"i": invited.pk, "n": invited.nonce}))
    assert err.value.code == "invalid"
    clock.go(DAY + dt.timedelta(days=8), 10)
    with pytest.raises(FollowupError) as err:
        surveys.survey_open(token)
    assert err.value.code == "expired"


def test_a_bad_answer_alerts_the_branch_manager_and_sends_the_signal(
    invited, manager, django_capture_on_commit_callbacks
):
    got = []
    survey_bad_answer.connect(
        lambda sender, response, **kw: got.append(response.pk), weak=False, dispatch_uid="t"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = surveys.survey_answer(
                token=surveys.survey_token(invited),
                answer=surveys.Answer(
                    doctor_score=5,
                    front_desk_score=2,
                    environment_score=4,
                    waiting_score=4,
                    nps=8,
                    comment="前台态度差",
                ),
            )
    finally:
        survey_bad_answer.disconnect(dispatch_uid="t")
    assert response.is_bad and got == [response.pk]
    task = Task.objects.get(kind=TaskKind.SURVEY)
    assert (task.assignee, task.source_key, task.visit_id) == (
        manager,
        f"survey:{invited.pk}:bad",
        invited.visit_id,
    )
    assert "前台态度差" in task.script


@pytest.mark.parametrize(
    ("scores", "nps", "bad"),
    [((3, 3, 3, 3), 7, False), ((1, 5, 5, 5), 10, True), ((5, 5, 5, 5), 6, True), ((4, 4, 4, 4), 7, False)],
)
def test_what_counts_as_bad(scores, nps, bad):
    d, f, e, w = scores
    answer = surveys.Answer(doctor_score=d, front_desk_score=f, environment_score=e, waiting_score=w, nps=nps)
    assert surveys.is_bad(answer) is bad


def test_the_public_page_needs_no_login_and_answers_once(invited, client):
    url = reverse("followups:survey", kwargs={"token": surveys.survey_token(invited)})
    page = client.get(url)
    assert page.status_code == 200 and 'data-testid="survey-form"' in page.content.decode()
    missing = client.post(url, {"doctor_score": "5"})
    assert missing.status_code == 200 and not SurveyResponse.objects.exists()
    data = {
        "doctor_score": "5",
        "front_desk_score": "4",
        "environment_score": "5",
        "waiting_score": "4",
        "nps": "10",
        "tags": ["clean", "explained"],
        "comment": "很好",
    }
    done = client.post(url, data)
    assert done.status_code == 200 and "survey-thanks" in done.content.decode()
    again = client.get(url)
    assert again.status_code == 200 and 'data-code="answered"' in again.content.decode()
    forged = client.get(reverse("followups:survey", kwargs={"token": "abc:def"}))
    assert forged.status_code == 400 and 'data-code="invalid"' in forged.content.decode()
    assert SurveyResponse.objects.count() == 1


def test_a_voided_visit_s_survey_is_not_sent(invited, manager, clock, django_capture_on_commit_callbacks):
    from appointments import checkout

    with django_capture_on_commit_callbacks(execute=True):
        checkout.visit_void(actor=manager, visit=invited.visit, reason="录错")
    clock.go(DAY, 14)
    assert surveys.surveys_send_due() == {"sent": 0, "skipped": 1}
    with pytest.raises(FollowupError) as err:
        surveys.survey_open(surveys.survey_token(invited))
    assert err.value.code == "closed"


def test_satisfaction_per_doctor_for_managers_only(invited, manager, front_desk, other_branch, staff_factory):
    surveys.survey_answer(token=surveys.survey_token(invited), answer=GOOD)
    page = login(manager).get(reverse("followups:satisfaction"), {"month": "2026-12"})
    assert page.status_code == 200
    row = page.context["rows"][0]
    assert (row["answers"], row["rate"], row["nps_score"]) == (1, 100.0, 100)
    assert page.context["total"]["rate"] == 100.0
    assert login(front_desk).get(reverse("followups:satisfaction")).status_code == 403
    from clinic.models import Role

    elsewhere = staff_factory(Role.BRANCH_MANAGER, [other_branch], username="pd_manager")
    assert (
        login(elsewhere)
        .get(reverse("followups:satisfaction"), {"month": "2026-12"})
        .context["total"]["answers"]
        == 0
    )


def test_satisfaction_page_query_count(invited, manager, django_assert_max_num_queries):
    surveys.survey_answer(token=surveys.survey_token(invited), answer=GOOD)
    c = login(manager)
    with django_assert_max_num_queries(15):
        c.get(reverse("followups:satisfaction"))


def test_the_member_sees_and_answers_their_pending_survey_in_the_portal(invited, person, branch):
    from members.actors import member_actor
    from tests.members.factories import make_member

    assert list(surveys.member_surveys_pending(person.pk)) == [invited]
    other = make_member(branch, name="李四", phone="13900002222")
    assert not surveys.member_surveys_pending(other.pk).exists()
    with pytest.raises(FollowupError):
        surveys.member_survey_answer(actor=member_actor(other), invitation=invited, answer=GOOD)
    response = surveys.member_survey_answer(actor=member_actor(person), invitation=invited, answer=GOOD)
    assert response.points == 50
    assert not surveys.member_surveys_pending(person.pk).exists()
    with pytest.raises(FollowupError) as err:
        surveys.member_survey_answer(actor=member_actor(person), invitation=invited, answer=GOOD)
    assert err.value.code == "answered"
