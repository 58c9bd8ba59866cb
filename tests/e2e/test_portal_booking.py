"""The member books on a phone (issue 18): at 390×844 and 360×640 a logged-in member picks a
service, a day and a free time, sees the booking among the upcoming ones, and cancels it;
a time taken meanwhile says so. Events: sign up, see the QR ticket, cancel. Surveys and
privacy pages too. axe-core on every page, no horizontal scrolling, screenshots."""

from __future__ import annotations

import datetime as dt
import os
from importlib import import_module

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Appointment, Channel, Status
from marketing import campaigns
from marketing.models import CampaignKind, CampaignSignup
from portal import session as portal_session
from tests.appointments.factories import at, book, make_doctor
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.portal_helpers import check_phone_page
from tests.members.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONES = {
    "390": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "locale": "zh-CN",
        "bypass_csp": True,
    },
    "360": {
        "viewport": {"width": 360, "height": 640},
        "is_mobile": True,
        "locale": "zh-CN",
        "bypass_csp": True,
    },
}
MEMBER_PHONE = "+8613911118888"


def shot(page, name: str) -> None:
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True, caret="initial")


def member_context(browser, live_server, size: str):
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[portal_session.PHONE] = MEMBER_PHONE
    store[portal_session.VIA] = "sms"
    store.set_expiry(portal_session.session_age())
    store.save()
    context = browser.new_context(**PHONES[size])
    context.add_cookies(
        [
            {
                "name": portal_session.cookie_name(),
                "value": store.session_key,
                "url": live_server.url + "/portal/",
            }
        ]
    )
    return context


def check(page, width: int, label: str) -> None:
    """No sideways scrolling, touch targets of 44 px, no serious axe-core violation."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{label}: scrolls sideways"
    check_phone_page(page)


@pytest.fixture
def world(request, branch, cleaning):
    clock = time_machine.travel(at(0, 8), tick=True)
    clock.start()
    request.addfinalizer(clock.stop)
    cleaning.bookable_online = True
    cleaning.save(update_fields=["bookable_online"])
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    member = make_member(branch, name="陈小美", phone=MEMBER_PHONE)
    return {"doctor": doctor, "member": member, "service": cleaning}


@pytest.mark.parametrize("size", ["390", "360"])
def test_a_member_books_a_free_time_on_a_phone_and_cancels_it(
    live_server, browser, world, size, branch, front_desk
):
    width = int(size)
    context = member_context(browser, live_server, size)
    page = context.new_page()
    page.goto(live_server.url + reverse("portal:appointments"))
    expect(page.get_by_role("heading", name="我的预约")).to_be_visible()
    check(page, width, "appointments")
    page.get_by_test_id("book-start").click()
    expect(page.get_by_role("heading", name="预约就诊")).to_be_visible()
    check(page, width, "book")
    page.locator("#id_service").select_option(str(world["service"].pk))
    page.get_by_test_id("show-times").click()
    page.locator(".portal-day").nth(1).click()  # tomorrow
    slots = page.get_by_test_id("slot")
    expect(slots.first).to_be_visible()
    check(page, width, "book (free times)")
    box = slots.first.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    shot(page, f"portal-book-{size}")
    # Someone at the front desk takes the second time meanwhile: the member is told.
    taken = at(1, 9, 15)
    book(front_desk, branch, make_member(branch, name="王五"), world["service"], world["doctor"], taken)
    page.locator(f'[data-testid="slot"][value^="{int(taken.timestamp())}-"]').click()
    expect(page.get_by_test_id("booking-error")).to_contain_text("刚被预约")
    shot(page, f"portal-book-taken-{size}")
    page.get_by_test_id("slot").first.click()
    expect(page.get_by_test_id("upcoming-appointment")).to_have_count(1)
    appt = Appointment.objects.get(member=world["member"])
    assert appt.channel == Channel.H5 and appt.start == at(1, 9, 45)  # 9:00 now overlaps the 9:15 booking
    check(page, width, "appointments (booked)")
    shot(page, f"portal-appointments-{size}")
    page.get_by_test_id("cancel-appointment").click()
    expect(page.get_by_text("预约已取消")).to_be_visible()
    appt.refresh_from_db()
    assert appt.status == Status.CANCELLED
    context.close()


@pytest.mark.parametrize("size", ["390", "360"])
def test_a_member_signs_up_for_an_event_and_shows_the_ticket(
    live_server, browser, world, size, branch, marketer
):
    width = int(size)
    start = timezone.now() + dt.timedelta(days=3)
    event = campaigns.campaign_create(
        actor=marketer, branch=branch, name="亲子护牙日", kind=CampaignKind.FAMILY, starts_at=start,
        ends_at=start + dt.timedelta(hours=2), capacity=20,
    )  # fmt: skip
    context = member_context(browser, live_server, size)
    page = context.new_page()
    page.goto(live_server.url + reverse("portal:events"))
    expect(page.get_by_role("heading", name="亲子护牙日")).to_be_visible()
    check(page, width, "events")
    page.get_by_test_id("event-signup").click()
    expect(page.get_by_test_id("ticket")).to_be_visible()
    signup = CampaignSignup.objects.get(member=world["member"], campaign=event)
    expect(page.get_by_test_id("ticket-code")).to_have_text(campaigns.ticket_code(signup))
    check(page, width, "event ticket")
    shot(page, f"portal-event-ticket-{size}")
    page.goto(live_server.url + reverse("portal:events"))
    check(page, width, "events (signed up)")
    shot(page, f"portal-events-{size}")
    page.get_by_test_id("event-cancel").click()
    expect(page.get_by_test_id("event-signup")).to_be_visible()
    signup.refresh_from_db()
    assert signup.status == "cancelled"
    context.close()


def test_surveys_and_privacy_pages_on_a_small_phone(live_server, browser, world):
    context = member_context(browser, live_server, "360")
    page = context.new_page()
    for name in ("portal:surveys", "portal:privacy"):
        page.goto(live_server.url + reverse(name))
        check(page, 360, name)
        shot(page, f"portal-{name.split(':')[1]}-360")
    page.get_by_test_id("erasure-submit").click()
    expect(page.get_by_role("alert")).to_be_visible()  # the box is not ticked
    page.locator("#id_confirm").check()
    page.get_by_test_id("erasure-submit").click()
    expect(page.get_by_test_id("erasure-open")).to_be_visible()
    check(page, 360, "privacy (requested)")
    shot(page, "portal-privacy-requested-360")
    context.close()
