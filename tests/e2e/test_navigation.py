"""The navbar at a desk screen (1280 px): a manager's many entries fit on one row because a
group of two or more shares a dropdown; a front desk's single benefit stays a plain link."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import nav_click
from tests.e2e.test_front_desk import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_managers_navbar_fits_one_row_and_groups_open(live_server, page, manager, screenshot):
    log_in(page, live_server.url, manager.username)
    navbar = page.locator("nav.navbar")
    expect(page.get_by_test_id("current-user")).to_be_visible()
    page.wait_for_load_state()  # Bootstrap (deferred) opens the dropdowns
    screenshot("navbar-manager")
    box = navbar.bounding_box()
    assert box and box["height"] < 80, box  # one row of entries, not labels wrapped per letter

    benefits = page.get_by_test_id("nav-benefits")
    expect(benefits.locator(".dropdown-menu")).to_be_hidden()
    benefits.get_by_role("button", name="会员权益").click()
    menu = benefits.locator(".dropdown-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("link")).to_have_text(
        ["积分兑换", "优惠券批次", "推荐排行榜", "储值负债"], use_inner_text=True
    )
    screenshot("navbar-manager-benefits")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()

    nav_click(page, "推荐排行榜")
    expect(page).to_have_url(f"{live_server.url}/loyalty/referrals/leaderboard/")
    expect(benefits.get_by_role("button", name="会员权益")).to_have_class("nav-link dropdown-toggle active")


def test_a_single_item_of_a_group_is_a_plain_link(live_server, page, front_desk):
    log_in(page, live_server.url, "front_desk")
    nav = page.locator("#main-nav")
    expect(nav.get_by_role("link", name="项目价目", exact=True)).to_be_visible()
    expect(page.get_by_test_id("nav-more")).to_have_count(0)
