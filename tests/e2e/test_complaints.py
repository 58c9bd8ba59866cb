"""A complaint from intake to closing in a real browser: customer service takes a phone
complaint with a photo, acknowledges, investigates, proposes, the customer accepts, it is
resolved and closed after the follow-up call with the closing review. Screenshots at 1280 px
and on a 390 px phone (no sideways scrolling)."""

from __future__ import annotations

import importlib
import os

import pytest
from django.apps import apps
from playwright.sync_api import expect

from clinic.models import Role
from complaints.models import Complaint
from tests.conftest import PASSWORD, make_staff
from tests.e2e.conftest import SCREENSHOTS, nav_click
from tests.members.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda u: "/login/" not in u)


@pytest.fixture
def clinic(branch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    importlib.import_module("complaints.migrations.0002_defaults").add_defaults(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    from clinic.roles import sync_roles

    sync_roles()
    person = make_member(branch, name="王芳", phone="13900002222")
    cs = make_staff(Role.CUSTOMER_SERVICE, [branch], username="kefu")
    return {"person": person, "cs": cs}


def step(page, action: str, text: str | None = None) -> None:
    form = page.get_by_test_id(f"action-{action}")
    if text is not None:
        form.locator("textarea").fill(text)
    form.get_by_role("button").click()
    page.wait_for_load_state()


def test_from_intake_to_closing(live_server, page, browser, clinic, screenshot, tmp_path):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server.url, "kefu")
    nav_click(page, "投诉")
    expect(page.get_by_test_id("complaints-empty")).to_be_visible()
    page.get_by_test_id("new-complaint").click()

    form = page.get_by_test_id("intake-form")
    form.locator("#id_channel").select_option("phone")
    form.locator("#id_member_phone").fill("13900002222")
    form.locator("#id_subject").fill("候诊一小时无人解释")
    form.locator("#id_description").fill("预约上午10点，11点才叫号。")
    form.locator("#id_expectation").fill("道歉，以后准时")
    form.locator("#id_category").select_option("waiting")
    photo = tmp_path / "queue.png"
    photo.write_bytes(PNG)
    form.locator("#id_attachments").set_input_files(str(photo))
    screenshot("complaints-1-intake-1280")
    page.get_by_test_id("intake-submit").click()

    expect(page.get_by_test_id("status")).to_have_text("已受理")
    complaint = Complaint.objects.get()
    assert complaint.member == clinic["person"] and complaint.attachments.count() == 1
    expect(page.get_by_test_id("clock")).to_contain_text("确认")
    expect(page.get_by_test_id("attachments")).to_contain_text("queue.png")
    screenshot("complaints-2-received-1280")

    step(page, "acknowledge", "已致电客户致歉")
    expect(page.get_by_test_id("status")).to_have_text("已确认")
    step(page, "investigate")
    expect(page.get_by_test_id("status")).to_have_text("调查中")
    step(page, "note", "当天医生临时加诊两位急诊患者")
    expect(page.get_by_test_id("history")).to_contain_text("急诊患者")
    step(page, "propose", "致歉并赠送洁牙券一张")
    expect(page.get_by_test_id("resolution")).to_contain_text("洁牙券")
    step(page, "accept")
    expect(page.get_by_test_id("status")).to_have_text("客户接受")
    step(page, "resolve")
    expect(page.get_by_test_id("status")).to_have_text("已解决")

    close = page.get_by_test_id("action-close")
    close.locator("#id_satisfaction").select_option("4")
    close.locator("#id_root_cause").select_option("process")
    close.locator("#id_corrective_action").fill("高峰时段预留急诊号，超时 15 分钟主动告知")
    close.locator("#id_lessons").fill("等候超时要及时解释")
    close.get_by_role("button", name="关闭").click()
    expect(page.get_by_test_id("status")).to_have_text("已回访关闭")
    expect(page.get_by_test_id("closing")).to_contain_text("4/5")
    screenshot("complaints-3-closed-1280")
    complaint.refresh_from_db()
    assert (complaint.status, complaint.satisfaction, complaint.root_cause) == ("closed", 4, "process")
    assert not [e for e in errors if "Content Security Policy" in e], errors

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    mobile = phone.new_page()
    log_in(mobile, live_server.url, "kefu")
    mobile.goto(f"{live_server.url}/complaints/?status=")
    expect(mobile.get_by_test_id("complaint-row")).to_have_count(1)
    width = mobile.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    mobile.screenshot(path=os.path.join(SCREENSHOTS, "complaints-4-list-390.png"), full_page=True)
    mobile.goto(f"{live_server.url}/complaints/{complaint.pk}/")
    width2 = mobile.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    mobile.screenshot(path=os.path.join(SCREENSHOTS, "complaints-5-detail-390.png"), full_page=True)
    phone.close()
    assert width[0] <= width[1] and width2[0] <= width2[1], (width, width2)
