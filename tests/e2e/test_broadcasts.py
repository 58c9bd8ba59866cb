"""Segments and broadcasts in a real browser: marketing builds a segment (the live count
follows the filters), composes an SMS broadcast to it, checks the waterfall, and sends; the
outbox then holds exactly the waterfall's last count. At a desk screen and on a phone: nothing
wider than the screen, screenshots kept."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from clinic.notifications import services as outbox_services
from clinic.notifications.models import ContactCap, Outbox
from marketing.models import Broadcast, Segment
from members import services as member_services
from members.models import ConsentKind
from tests.members.factories import make_member

from .conftest import nav_click
from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _people(branch, actor):
    women = [make_member(branch, name=f"王女士{i}", gender="F", phone=f"1380000100{i}") for i in range(5)]
    make_member(branch, name="李先生", gender="M", phone="13800002000")
    for m in women[:4]:
        member_services.consent_grant(actor=actor, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper")
    outbox_services.optout_set(actor=actor, channel="sms", recipient=women[3].phone)
    ContactCap.objects.create(pk=1, limit=4)
    return women


def _no_overflow(page) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    assert not wide, "the page is wider than the screen"


def test_segment_broadcast_waterfall_matches_outbox(
    live_server, page, branch, marketer, front_desk, screenshot
):
    _people(branch, front_desk)
    log_in(page, live_server.url, marketer.username)
    nav_click(page, "客户分群")
    page.get_by_test_id("segment-new").click()
    form = page.get_by_test_id("segment-form")
    form.get_by_label("分群名称").fill("女性客户")
    form.get_by_label("女", exact=True).check()
    expect(page.get_by_test_id("segment-count")).to_have_text("5")
    screenshot("seg-1-editor")
    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("segment-count")).to_have_text("5")
    segment = Segment.objects.get(name="女性客户")
    assert segment.filters == {"genders": ["F"]}

    page.get_by_test_id("segment-broadcast").click()
    compose = page.get_by_test_id("broadcast-form")
    compose.get_by_label("群发名称").fill("洁牙八折")
    compose.locator("textarea[name=body]").fill("{name}您好，{branch}本周洁牙八折，欢迎预约。回T退订")
    expect(page.get_by_test_id("sms-length")).to_contain_text("1")
    screenshot("seg-2-compose")
    page.get_by_test_id("broadcast-save").click()
    waterfall = page.get_by_test_id("waterfall")
    expect(waterfall).to_be_visible()
    remaining = [int(t) for t in waterfall.get_by_test_id("remaining").all_inner_texts()]
    assert remaining == [5, 4, 3, 3, 3]  # segment, −no consent, −opted out, −no address, −cap
    screenshot("seg-3-waterfall")
    page.get_by_test_id("broadcast-send").click()
    expect(page.get_by_test_id("broadcast-status")).to_have_text("发送中")
    broadcast = Broadcast.objects.get(name="洁牙八折")
    queued = Outbox.objects.filter(template_key=broadcast.template_key)
    assert queued.count() == remaining[-1] == broadcast.audience_count
    expect(page.get_by_test_id("results").locator("[data-status=pending] strong")).to_have_text("3")
    screenshot("seg-4-sent")
    _no_overflow(page)

    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in (
        (f"/marketing/segments/{segment.pk}/", "seg-5-phone-segment"),
        (f"/marketing/broadcasts/{broadcast.pk}/", "seg-6-phone-broadcast"),
        ("/marketing/broadcasts/", "seg-7-phone-list"),
    ):
        page.goto(live_server.url + path)
        screenshot(name)
        _no_overflow(page)
