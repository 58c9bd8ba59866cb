"""The satisfaction survey on a phone (issue 14): a visit is checked out, its survey link
opens on a 390×844 screen without logging in, the person answers with taps, and the survey
points are credited once: opening the link again says it was answered and gives nothing.
Also: the recall and satisfaction pages for a manager, with axe, at 1280 and 390 px."""

from __future__ import annotations

import os

import pytest
import time_machine
from django.apps import apps
from django.urls import reverse
from playwright.sync_api import expect

from appointments import checkout, services
from followups.models import SurveyInvitation, SurveyResponse
from followups.surveys import survey_token
from loyalty.models import PointsAccount, PointsEntry
from loyalty.services import membership_enrol
from tests.appointments.factories import at, make_doctor
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import audit, audit_current, report
from tests.members.factories import make_member

from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# axe is injected as an inline script, which the CSP (rightly) refuses on real pages.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "locale": "zh-CN", "bypass_csp": True}


@pytest.fixture
def answered_visit(request, branch, front_desk, cleaning):
    """A cleaning checked out at the 静安 branch on Monday 2026-12-07, 10:30."""
    from followups.recall_seed import seed

    seed(apps)
    clock = time_machine.travel(at(0, 9), tick=True)
    clock.start()
    request.addfinalizer(clock.stop)
    doc = make_doctor(branch, "doc_chen", "陈医生")
    person = make_member(branch, name="王芳", phone="13912348765")
    membership_enrol(actor=None, member=person, branch=branch, welcome_points=0)
    appt = services.appointment_book(
        actor=front_desk,
        branch=branch,
        member=person,
        service=cleaning,
        doctor=doc,
        start=at(0, 10),
        channel="phone",
    )
    services.appointment_check_in(actor=front_desk, appointment=appt)
    appt = services.appointment_start_treatment(actor=front_desk, appointment=appt)
    checkout.charge_line_add(actor=front_desk, visit=appt.visit, item=cleaning)
    _lines, priced = checkout.quote(visit=appt.visit)
    visit = checkout.visit_checkout(
        actor=front_desk, visit=appt.visit, payments=[("wechat_pay", priced.amount_due)], checkout_key="e2e"
    )
    return visit


def shot(page, name: str) -> None:
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True, caret="initial")


def test_a_survey_link_answered_on_a_phone_credits_the_points_once(live_server, browser, answered_visit):
    inv = SurveyInvitation.objects.get(visit=answered_visit)  # made by the visit_completed listener
    url = live_server.url + reverse("followups:survey", kwargs={"token": survey_token(inv)})
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_role("heading", name="本次就诊体验如何？")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    violations = audit_current(page)
    assert not violations, report({("anonymous@390", url): violations})
    # Sending without every rating keeps the page, says what is missing, and records nothing.
    page.get_by_test_id("survey-submit").click()
    expect(page.locator("[role=alert]").first).to_be_visible()
    assert not SurveyResponse.objects.exists()
    for field, stars in (
        ("doctor_score", 5),
        ("front_desk_score", 4),
        ("environment_score", 5),
        ("waiting_score", 4),
    ):
        page.locator(f"input[name={field}][value='{stars}'] + label").click()
    page.locator("input[name=nps][value='10'] + label").click()
    page.get_by_text("讲解清楚").click()
    page.get_by_label("还有什么想告诉我们的吗？").fill("医生很耐心")
    shot(page, "survey-390-filled")
    page.get_by_test_id("survey-submit").click()
    expect(page.get_by_test_id("survey-points")).to_contain_text("50")
    shot(page, "survey-390-thanks")
    # The link opened again says it was answered; nothing more is credited.
    page.goto(url)
    expect(page.get_by_test_id("survey-closed")).to_have_attribute("data-code", "answered")
    shot(page, "survey-390-answered")
    response = SurveyResponse.objects.get()
    assert (response.doctor_score, response.nps, response.tags, response.comment) == (
        5,
        10,
        ["explained"],
        "医生很耐心",
    )
    assert PointsEntry.objects.filter(idempotency_key=f"review:survey:{inv.pk}:points").count() == 1
    assert (
        PointsAccount.objects.get(member=answered_visit.member, is_open=True).balance
        == 50 + answered_visit.points_earned
    )
    forged = context.new_page()
    forged.goto(live_server.url + reverse("followups:survey", kwargs={"token": "abc:def"}))
    expect(forged.get_by_test_id("survey-closed")).to_have_attribute("data-code", "invalid")
    context.close()


def test_recall_and_satisfaction_pages_for_a_manager(live_server, browser, answered_visit, manager):
    from followups.surveys import Answer, survey_answer

    inv = SurveyInvitation.objects.get(visit=answered_visit)
    survey_answer(
        token=survey_token(inv),
        answer=Answer(
            doctor_score=5, front_desk_score=2, environment_score=4, waiting_score=3, nps=6, comment="等太久"
        ),
    )
    context = browser.new_context(locale="zh-CN", bypass_csp=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    log_in(page, live_server.url, manager.username)
    page.wait_for_url(lambda u: "/login/" not in u)

    def screenshot(name):
        shot(page, name)

    for name, tag in (("followups:recall_list", "recalls"), ("followups:satisfaction", "satisfaction")):
        url = live_server.url + reverse(name)
        violations = audit(page, url)
        assert not violations, report({("manager@1280", url): violations})
        screenshot(f"{tag}-1280")
    expect(page.get_by_test_id("satisfaction-row")).to_contain_text("0.0%")
    expect(page.get_by_test_id("bad-answers")).to_contain_text("等太久")
    page.goto(live_server.url + reverse("followups:recall_list"))
    page.get_by_label("到期月份").select_option("2027-06")  # the cleaning's recall: six months on
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_test_id("recall-row")).to_contain_text("王芳")
    expect(page.get_by_test_id("recall-row")).to_contain_text("2027-06-07")
    screenshot("recalls-1280-june")
    page.set_viewport_size({"width": 390, "height": 844})
    for name, tag in (("followups:recall_list", "recalls"), ("followups:satisfaction", "satisfaction")):
        page.goto(live_server.url + reverse(name))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        screenshot(f"{tag}-390")
    context.close()
