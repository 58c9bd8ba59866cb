"""The navbar search by keyboard (issue 4): the results are an ARIA combobox and listbox;
ArrowDown/ArrowUp move a highlighted result while focus stays in the box, Enter opens it,
Escape closes the list; Enter on a person of another branch receives them here, and where
the role may not receive, that person is listed but cannot be chosen."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from clinic.models import Role
from members.models import Member
from tests.conftest import make_staff
from tests.members.factories import make_member

from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def highlighted(page) -> str | None:
    return page.get_by_role("combobox", name="查找客户").get_attribute("aria-activedescendant")


def test_results_are_chosen_with_the_arrow_keys_and_opened_with_enter(
    live_server, page, front_desk, branch, other_branch, screenshot
):
    make_member(branch, name="张三", phone="13812345678")
    zhang_wei = make_member(branch, name="张伟", phone="13812340001")
    make_member(other_branch, name="张磊", phone="13812340002")  # found chain-wide
    make_member(branch, name="李四", phone="13900001111")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    log_in(page, live_server.url, "front_desk")
    box = page.get_by_role("combobox", name="查找客户")
    expect(box).to_have_attribute("aria-expanded", "false")
    box.fill("张")
    listbox = page.get_by_role("listbox", name="查找客户")
    options = listbox.get_by_role("option")
    expect(options).to_have_count(3)
    expect(options.nth(0)).to_contain_text("张三")
    expect(options.nth(1)).to_contain_text("张伟")
    expect(options.nth(2)).to_contain_text("张磊")
    expect(options.nth(2)).to_contain_text("其他门店的客户")
    expect(listbox).not_to_contain_text("李四")
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(box).to_have_attribute("aria-controls", listbox.get_attribute("id"))
    expect(page.get_by_role("status")).to_have_text("找到 3 位客户，按上下方向键选择，回车打开。")
    assert highlighted(page) is None
    ids = [options.nth(i).get_attribute("id") for i in range(3)]
    assert len(set(ids)) == 3 and all(ids)

    box.press("ArrowDown")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    assert highlighted(page) == ids[0]
    expect(box).to_be_focused()
    box.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.nth(0)).to_have_attribute("aria-selected", "false")
    assert highlighted(page) == ids[1]
    screenshot("search-keyboard-1-highlighted")
    # 张磊 of the other branch is listed, but a partial name is no finding to receive him by
    # (receiving needs his full phone, card or ID number): the arrows pass him by, and wrap
    # round at both ends.
    expect(options.nth(2)).to_have_attribute("aria-disabled", "true")
    box.press("ArrowDown")
    assert highlighted(page) == ids[0]
    box.press("ArrowUp")
    assert highlighted(page) == ids[1]
    box.press("ArrowUp")
    assert highlighted(page) == ids[0]
    box.press("ArrowDown")
    assert highlighted(page) == ids[1]
    expect(options.nth(2)).to_have_attribute("aria-selected", "false")

    # Escape closes the list and keeps what was typed; ArrowDown opens it again.
    box.press("Escape")
    expect(page.get_by_test_id("search-results")).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("张")
    assert highlighted(page) is None
    box.press("ArrowDown")
    expect(page.get_by_test_id("search-results")).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    assert highlighted(page) == ids[0]
    box.press("ArrowDown")
    box.press("Enter")
    expect(page).to_have_url(f"{live_server.url}{reverse('members:detail', args=[zhang_wei.pk])}")
    expect(page.get_by_test_id("member-name")).to_contain_text("张伟")

    # On the next page: a click elsewhere closes the list, a click in the box reopens it,
    # and a second Escape (list already closed) lets the browser clear the box.
    box.fill("5678")
    expect(options).to_have_count(1)
    screenshot("search-keyboard-2-one-result")
    page.get_by_test_id("profile-header").click()
    expect(page.get_by_test_id("search-results")).to_be_hidden()
    box.click()
    expect(page.get_by_test_id("search-results")).to_be_visible()
    box.press("Escape")
    expect(page.get_by_test_id("search-results")).to_be_hidden()
    box.press("Escape")
    expect(box).to_have_value("")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_enter_receives_a_person_of_another_branch(live_server, page, branch, outsider):
    person = make_member(branch, name="张三", phone="13812345678")

    log_in(page, live_server.url, "outsider")
    box = page.get_by_role("combobox", name="查找客户")
    box.fill("13812345678")  # receiving needs an exact finding (full phone, card, ID number)
    option = page.get_by_role("listbox", name="查找客户").get_by_role("option")
    expect(option).to_have_count(1)
    expect(option).to_contain_text("其他门店的客户")
    box.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page).to_have_url(re.compile(rf"/members/{person.pk}/$"))
    expect(page.get_by_test_id("member-name")).to_contain_text("张三")
    assert Member.objects.get(pk=person.pk).served_branches.filter(code="PD").exists()


def test_a_person_the_role_may_not_receive_cannot_be_chosen(live_server, page, branch, other_branch):
    person = make_member(branch, name="张三", phone="13812345678")
    make_staff(Role.MARKETING, [other_branch], username="pd_marketing")

    log_in(page, live_server.url, "pd_marketing")
    box = page.get_by_role("combobox", name="查找客户")
    box.fill("13812345678")
    option = page.get_by_role("listbox", name="查找客户").get_by_role("option")
    expect(option).to_contain_text("张三")
    expect(option).to_have_attribute("aria-disabled", "true")
    expect(option.get_by_role("button")).to_have_count(0)
    box.press("ArrowDown")
    assert highlighted(page) is None
    expect(option).to_have_attribute("aria-selected", "false")
    assert not Member.objects.get(pk=person.pk).served_branches.filter(code="PD").exists()
