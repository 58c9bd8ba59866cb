"""The front desk's everyday flow: find a person by the last four digits of the phone from
the navbar, open the profile, and register someone new."""

from __future__ import annotations

import importlib
import re

import pytest
from django.apps import apps
from playwright.sync_api import expect

from members.models import Member
from tests.conftest import PASSWORD
from tests.members.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


@pytest.fixture
def channels(db):
    # The channel list is a data migration, and transaction=True tests flush it away.
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)


def test_front_desk_finds_a_person_and_registers_a_new_one(
    live_server, page, front_desk, branch, channels, screenshot
):
    make_member(branch, name="张三", phone="13812345678")
    make_member(branch, name="李四", phone="13900001111")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    log_in(page, live_server.url, "front_desk")
    box = page.get_by_placeholder("手机号/姓名/拼音/卡号")
    box.fill("5678")
    results = page.get_by_test_id("search-results")
    expect(results).to_contain_text("张三")
    expect(results).to_contain_text("138****5678")
    expect(results).not_to_contain_text("李四")
    screenshot("members-search-last4")

    page.get_by_test_id("search-result").filter(has_text="张三").click()
    expect(page.get_by_test_id("member-name")).to_contain_text("张三")
    expect(page.get_by_test_id("masked-phone")).to_have_text("138****5678")
    page.get_by_test_id("reveal-phone").click()
    expect(page.get_by_test_id("revealed-phone")).to_have_text("13812345678")
    screenshot("members-profile")

    page.get_by_role("link", name="新建客户").first.click()
    page.get_by_label("姓名").fill("王小明")
    page.get_by_label("手机号").fill("139 1234 0000")
    page.get_by_label("来源渠道").select_option(label="小红书")
    screenshot("members-register-form")
    page.get_by_role("button", name="登记").click()
    expect(page).to_have_url(re.compile(r"/members/\d+/$"))
    expect(page.get_by_test_id("member-name")).to_contain_text("王小明")
    screenshot("members-registered")
    created = Member.objects.get(name="王小明")
    assert created.phone == "+8613912340000" and created.channel.name == "小红书"
    assert not [e for e in errors if "Content Security Policy" in e], errors
