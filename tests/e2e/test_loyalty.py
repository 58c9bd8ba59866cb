"""Loyalty screens in a real browser (issue 5): the front desk or a consultant finds a patient,
enrols them (办卡) from the profile and reads the card number, tier and welcome points; a
branch manager grants points by hand with a reason and sees the history row, the new lot and
the new balance; a role without the permission neither sees the grant nor can post it."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import AuditLog
from loyalty import services
from loyalty.models import EntryKind, Membership, PointsAccount, PointsEntry, PointsLot
from tests.members.factories import make_member

from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def programme(db):
    # Tiers, points policy (100 welcome points) and message templates are a data migration,
    # and transaction=True tests flush it away.
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)


def open_loyalty_tab(page) -> None:
    page.get_by_test_id("profile-tabs").get_by_role("link", name="会员与积分").click()
    expect(page.get_by_test_id("loyalty-panel")).to_be_visible()


def csrf_token(page) -> str:
    """The token the page itself sends with htmx requests (the CSRF cookie is HttpOnly)."""
    return json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRFToken"]


def post_adjust_anyway(page, base_url: str, member) -> int:
    """What a user without the button could still try: post the grant form by hand."""
    response = page.request.post(
        base_url + reverse("loyalty:adjust", args=[member.pk]),
        form={
            "csrfmiddlewaretoken": csrf_token(page),
            "points": "5000",
            "reason": "自己加分",
            "token": str(uuid.uuid4()),
        },
        max_redirects=0,
    )
    return response.status


@pytest.mark.parametrize("role", ["front_desk", "consultant"])
def test_front_desk_or_consultant_enrols_a_patient_and_may_not_grant_points(
    request, role, live_server, page, branch, programme, screenshot
):
    request.getfixturevalue(role)
    member = make_member(branch, name="赵敏", phone="13700001234")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    log_in(page, live_server.url, role)
    page.get_by_placeholder("手机号/姓名/拼音/卡号").fill("1234")
    page.get_by_test_id("search-result").filter(has_text="赵敏").click()
    expect(page.get_by_test_id("member-name")).to_contain_text("已就诊")
    open_loyalty_tab(page)
    panel = page.get_by_test_id("loyalty-panel")
    expect(panel).to_contain_text("尚未办卡")
    expect(page.get_by_test_id("card-no")).to_have_count(0)
    # The welcome points are HQ's policy, shown and not typed in.
    expect(page.get_by_test_id("welcome-points")).to_have_text("开卡赠送 100 积分")
    expect(page.locator('[name="welcome_points"]')).to_have_count(0)
    screenshot(f"loyalty-{role}-1-not-a-member")

    page.get_by_test_id("enrol-button").click()
    expect(page).to_have_url(re.compile(rf"/members/{member.pk}/\?tab=loyalty$"))
    membership = Membership.objects.select_related("tier").get(member=member)
    assert re.fullmatch(r"JA\d{7}", membership.card_no)
    expect(page.get_by_role("alert").filter(has_text="办卡成功")).to_contain_text(membership.card_no)
    expect(page.get_by_test_id("card-no")).to_have_text(membership.card_no)
    expect(page.get_by_test_id("tier")).to_have_text("普通会员")
    expect(page.get_by_test_id("balance")).to_have_text("100")
    # The header now says member, with the tier badge and the card number.
    expect(page.get_by_test_id("member-name")).to_contain_text("会员")
    expect(page.get_by_test_id("member-name")).to_contain_text("普通会员")
    expect(page.get_by_test_id("profile-header")).to_contain_text(membership.card_no)
    # The welcome points are one lot, valid for the policy's 12 months, and one history row.
    lot = PointsLot.objects.get(account__member=member)
    assert lot.expires_on > timezone.localdate() + dt.timedelta(days=360)
    expect(page.get_by_test_id("lots").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("lots")).to_contain_text(lot.expires_on.isoformat())
    history = page.get_by_test_id("history")
    expect(history).to_contain_text("开卡赠送积分")
    expect(history).to_contain_text("+100")
    expect(page.get_by_test_id("progress")).to_be_visible()
    screenshot(f"loyalty-{role}-2-enrolled")

    # Neither the front desk nor a consultant may grant points: no form, and a hand-made
    # post is refused without touching the ledger.
    expect(page.get_by_test_id("adjust-form")).to_have_count(0)
    expect(page.get_by_test_id("tier-form")).to_have_count(0)
    expect(page.get_by_test_id("enrol-form")).to_have_count(0)
    assert post_adjust_anyway(page, live_server.url, member) == 403
    assert not PointsEntry.objects.filter(account__member=member, kind=EntryKind.ADJUST).exists()
    assert PointsAccount.objects.get(member=member).balance == 100
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_manager_grants_points_with_a_reason_and_reads_lots_and_progress(
    live_server, page, branch, manager, programme, screenshot
):
    member = make_member(branch, name="钱多多", phone="13700005678")
    services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)
    now = timezone.now()
    # A paid visit 300 days ago (1,500 points at 1 per ¥, expiring within weeks) and a
    # birthday bonus last month: two lots, oldest expiry first.
    services.purchase_record(
        actor=None,
        member=member,
        amount=Decimal("1500.00"),
        source_key="e2e:purchase:1",
        occurred_at=now - dt.timedelta(days=300),
    )
    services.points_earn(
        actor=None,
        member=member,
        points=200,
        idempotency_key="e2e:birthday",
        reason="生日积分",
        earned_at=now - dt.timedelta(days=30),
    )
    old_lot, new_lot = PointsLot.objects.filter(account__member=member).order_by("expires_on")
    assert (old_lot.points, new_lot.points) == (1500, 200)

    log_in(page, live_server.url, manager.username)
    page.goto(live_server.url + reverse("members:detail", args=[member.pk]))
    open_loyalty_tab(page)
    expect(page.get_by_test_id("balance")).to_have_text("1700")
    rows = page.get_by_test_id("lots").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(old_lot.expires_on.isoformat())
    expect(rows.nth(0)).to_contain_text("1500")
    expect(rows.nth(1)).to_contain_text(new_lot.expires_on.isoformat())
    expect(rows.nth(1)).to_contain_text("200")
    # 银卡 needs ¥3,000 or 3 visits in 12 months: ¥1,500 is half way.
    panel = page.get_by_test_id("loyalty-panel")
    expect(panel).to_contain_text("距离升级银卡")
    expect(page.get_by_test_id("progress")).to_have_attribute("value", "50")
    expect(panel).to_contain_text("近 12 个月：消费 ¥1,500.00，就诊 1 次")
    screenshot("loyalty-manager-1-points-tab")

    form = page.get_by_test_id("adjust-form")
    form.get_by_label("积分").fill("300")
    form.get_by_label("原因").fill("投诉补偿：候诊时间过长")
    form.get_by_role("button", name="调整").click()

    expect(page.get_by_role("alert").filter(has_text="积分已调整")).to_contain_text("+300")
    expect(page.get_by_test_id("balance")).to_have_text("2000")
    newest = page.get_by_test_id("history").locator("tbody tr").first
    expect(newest).to_contain_text("+300")
    expect(newest).to_contain_text("2000")
    expect(newest).to_contain_text("投诉补偿：候诊时间过长")
    expect(newest).to_contain_text("测试店长")
    expect(rows).to_have_count(3)
    granted = PointsEntry.objects.get(account__member=member, kind=EntryKind.ADJUST)
    grant_lot = PointsLot.objects.get(entry=granted)
    expect(rows.nth(2)).to_contain_text(grant_lot.expires_on.isoformat())
    screenshot("loyalty-manager-2-granted")

    assert (granted.points, granted.balance_after, granted.actor) == (300, 2000, manager)
    audit = AuditLog.objects.get(action="loyalty.points.adjusted", target_id=str(member.pk))
    assert audit.actor == manager and "投诉补偿" in json.dumps(audit.changes, ensure_ascii=False)

    # The full history page lists the grant too.
    page.get_by_role("link", name="全部明细").click()
    expect(page.get_by_test_id("history").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("history").locator("tbody tr").first).to_contain_text("投诉补偿")
