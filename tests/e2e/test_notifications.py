"""The outbox staff page in a real browser (issue 3): a branch manager lists the messages,
filters them by status and channel, opens a failed one (recipient masked), sends it again,
and sees it go out on the sender's next run; marketing may read the outbox but not resend,
and the front desk may not open it at all."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from clinic.models import AuditLog
from clinic.notifications import services
from clinic.notifications.backends import locmem
from clinic.notifications.errors import PermanentSendError
from clinic.notifications.models import Outbox, Status
from tests.e2e.conftest import nav_click
from tests.notifications.factories import REMINDER_PARAMS, reminder_templates

from .test_appointments import log_in
from .test_loyalty import csrf_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OK_PHONE = "+8613812345678"
NO_CREDIT_PHONE = "+8613900001111"
REFUSING_OPENID = "oAbCdEfGhIjKlMnOpQrStUv"


@pytest.fixture
def outbox(settings, branch):
    """Four reminders queued the way the system queues them and sent by the sender: two go
    out, an SMS fails because the provider account ran out of credit, and a WeChat message
    fails because the person refused subscriptions."""
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "locmem"}
    settings.NOTIFICATIONS_RATE_LIMITS = {}
    locmem.outbox.clear()
    locmem.failures.clear()
    reminder_templates()
    rows = {}
    for name, channel, recipient in [
        ("ok_sms", "sms", OK_PHONE),
        ("no_credit", "sms", NO_CREDIT_PHONE),
        ("email", "email", "zhang@example.com"),
        ("refused", "wechat", REFUSING_OPENID),
    ]:
        rows[name] = services.notification_enqueue(
            channel=channel,
            recipient=recipient,
            template_key="appointment.reminder",
            params={**REMINDER_PARAMS, "name": "李四" if name == "no_credit" else "张三"},
            purpose="service",
            dedupe_key=f"e2e:reminder:{name}",
            branch=branch,
        )
    locmem.failures[NO_CREDIT_PHONE] = [
        PermanentSendError("账户余额不足", code="isv.AMOUNT_NOT_ENOUGH"),
    ]
    locmem.failures[REFUSING_OPENID] = [PermanentSendError("user refuse to accept the msg", code="43101")]
    counts = services.outbox_send_due(budget_seconds=5)
    assert (counts["sent"], counts["failed"]) == (2, 2)
    yield rows
    locmem.outbox.clear()
    locmem.failures.clear()


def test_manager_filters_the_outbox_opens_a_failed_message_and_resends_it(
    live_server, page, manager, outbox, screenshot
):
    no_credit = outbox["no_credit"]
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    log_in(page, live_server.url, manager.username)
    nav_click(page, "消息")
    table = page.get_by_test_id("outbox-table")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(4)
    # Recipients are masked on the list, whatever the channel.
    expect(table).to_contain_text("139****1111")
    expect(table).to_contain_text("z***@example.com")
    expect(table).to_contain_text("oAbC…Uv")
    assert "13900001111" not in page.content() and REFUSING_OPENID not in page.content()
    expect(page.get_by_test_id("daily-counts").locator("tbody tr").first).to_contain_text("4")
    screenshot("outbox-1-list")

    # Filters apply as they change (htmx) and land in the address bar.
    page.get_by_label("状态").select_option(label="失败")
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"status=failed"))
    page.get_by_label("渠道").select_option(label="短信")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"channel=sms"))
    expect(rows.first).to_contain_text("139****1111")
    expect(rows.first).to_contain_text("失败")
    screenshot("outbox-2-filtered")

    # Back undoes the last filter and the page stays whole: htmx restores history with the
    # full page (it used to ask as an htmx request, get the bare table and put it in place of
    # the whole body: no menu, no filters, no styles).
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"channel=sms"))
    expect(rows).to_have_count(2)
    expect(page.get_by_label("状态")).to_have_value("failed")
    expect(page.get_by_label("渠道")).to_have_value("")
    expect(page.get_by_test_id("current-user")).to_be_visible()
    expect(page.get_by_test_id("daily-counts")).to_be_visible()
    page.go_forward()
    expect(rows).to_have_count(1)
    expect(page.get_by_test_id("current-user")).to_be_visible()

    rows.first.get_by_role("link", name=str(no_credit.pk)).click()
    expect(page).to_have_url(re.compile(rf"/{no_credit.pk}/$"))
    expect(page.get_by_role("heading", name=f"消息 #{no_credit.pk}")).to_be_visible()
    detail = page.locator("main")
    expect(detail).to_contain_text("139****1111")
    expect(detail).to_contain_text("isv.AMOUNT_NOT_ENOUGH: 账户余额不足")
    expect(detail).to_contain_text("李四您好")
    assert "13900001111" not in page.content()
    screenshot("outbox-3-detail-failed")

    page.get_by_test_id("resend").click()
    expect(page.get_by_role("alert").filter(has_text="消息已重新排队发送")).to_be_visible()
    expect(detail).to_contain_text("待发送")
    expect(page.get_by_test_id("resend")).to_have_count(0)
    no_credit.refresh_from_db()
    assert (no_credit.status, no_credit.attempts) == (Status.PENDING, 0)
    audit = AuditLog.objects.get(action="notifications.outbox.resent", target_id=str(no_credit.pk))
    assert audit.actor == manager and audit.changes["status"] == ["failed", "pending"]

    # The account was topped up: the sender's next run delivers it, exactly once.
    services.outbox_send_due(budget_seconds=5)
    page.reload()
    expect(detail).to_contain_text("已发送")
    expect(detail).to_contain_text(f"locmem-{no_credit.pk}")
    screenshot("outbox-4-detail-sent")
    assert [m.recipient for m in locmem.outbox].count(NO_CREDIT_PHONE) == 1
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_marketing_reads_the_outbox_but_may_not_resend(
    live_server, page, marketer, front_desk, outbox, screenshot
):
    refused = outbox["refused"]
    log_in(page, live_server.url, marketer.username)
    nav_click(page, "消息")
    expect(page.get_by_test_id("outbox-table").locator("tbody tr")).to_have_count(4)
    page.goto(live_server.url + reverse("notifications:outbox_detail", args=[refused.pk]))
    expect(page.locator("main")).to_contain_text("43101")
    expect(page.locator("main")).to_contain_text("失败")
    expect(page.get_by_test_id("resend")).to_have_count(0)
    screenshot("outbox-5-marketing-detail")

    response = page.request.post(
        live_server.url + reverse("notifications:outbox_resend", args=[refused.pk]),
        form={"csrfmiddlewaretoken": csrf_token(page)},
        max_redirects=0,
    )
    assert response.status == 403
    refused.refresh_from_db()
    assert refused.status == Status.FAILED
    assert not AuditLog.objects.filter(action="notifications.outbox.resent").exists()

    # The front desk has no outbox at all: no menu entry, and the page is refused.
    page.get_by_role("button", name="退出").click()
    log_in(page, live_server.url, front_desk.username)
    expect(page.get_by_role("link", name="消息")).to_have_count(0)
    response = page.goto(live_server.url + reverse("notifications:outbox_list"))
    assert response.status == 403
    assert Outbox.objects.filter(status=Status.FAILED).count() == 2
