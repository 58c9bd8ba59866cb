"""The staff outbox page and the admin: happy paths, scoping, permissions, query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import AuditLog
from clinic.notifications.models import Channel, MessageTemplate, Outbox, Status
from tests.clinic.test_i18n import untranslated, visible_text
from tests.notifications.factories import MessageTemplateFactory, OutboxFactory

pytestmark = pytest.mark.django_db


def ui_untranslated(html: str) -> list[str]:
    """Untranslated UI text, leaving out data: template keys, provider error codes."""
    data_like = ("appointment.reminder", "isv.", "z***@")
    return [part for part in untranslated(visible_text(html)) if not part.startswith(data_like)]


@pytest.fixture
def failed(branch):
    return OutboxFactory(
        branch=branch, status=Status.FAILED, attempts=1, last_error="isv.MOBILE_NUMBER_ILLEGAL"
    )


def test_list_shows_masked_recipients_filters_and_daily_counts(manager, client_for, branch, failed):
    OutboxFactory(branch=branch, status=Status.SENT, channel=Channel.EMAIL, recipient="zhang@example.com")
    client = client_for(manager)
    html = client.get(reverse("notifications:outbox_list")).content.decode()
    assert "138****5678" in html and "+8613812345678" not in html
    assert "z***@example.com" in html
    assert 'data-testid="daily-counts"' in html
    assert ui_untranslated(html) == []
    only_failed = client.get(reverse("notifications:outbox_list"), {"status": "failed"}).content.decode()
    assert "z***@example.com" not in only_failed and "138****5678" in only_failed


def test_list_htmx_returns_the_results_partial(manager, client_for, failed):
    response = client_for(manager).get(
        reverse("notifications:outbox_list"), {"channel": "sms"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert "<html" not in body and "outbox-table" in body


def test_list_hides_other_branches(manager, client_for, other_branch):
    OutboxFactory(branch=other_branch, template_key="other.branch.message")
    html = client_for(manager).get(reverse("notifications:outbox_list")).content.decode()
    assert "other.branch.message" not in html


def test_list_query_count_is_capped(manager, client_for, branch, django_assert_max_num_queries):
    for n in range(60):
        OutboxFactory(branch=branch, status=Status.SENT if n % 2 else Status.FAILED)
    client = client_for(manager)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("notifications:outbox_list")).status_code == 200


def test_list_refused_without_permission(front_desk, client_for):
    assert client_for(front_desk).get(reverse("notifications:outbox_list")).status_code == 403


def test_detail_and_resend(manager, client_for, failed):
    client = client_for(manager)
    url = reverse("notifications:outbox_detail", args=[failed.pk])
    html = client.get(url).content.decode()
    assert "isv.MOBILE_NUMBER_ILLEGAL" in html and 'data-testid="resend"' in html
    assert ui_untranslated(html) == [] and "发送内容" in html
    response = client.post(reverse("notifications:outbox_resend", args=[failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Status.PENDING
    assert AuditLog.objects.filter(action="notifications.outbox.resent").count() == 1


def test_detail_outside_the_branch_is_404(outsider, client_for, branch):
    row = OutboxFactory(branch=branch)
    # The outsider has no outbox permission at all: 403 before any lookup.
    assert client_for(outsider).get(reverse("notifications:outbox_detail", args=[row.pk])).status_code == 403


def test_detail_of_another_branch_is_404_for_a_manager(staff_factory, client_for, other_branch):
    other_manager = staff_factory("branch_manager", [other_branch], username="pd_manager")
    row = OutboxFactory(branch=None)
    mine = OutboxFactory(branch=other_branch)
    client = client_for(other_manager)
    assert client.get(reverse("notifications:outbox_detail", args=[row.pk])).status_code == 404
    assert client.get(reverse("notifications:outbox_detail", args=[mine.pk])).status_code == 200


def test_read_only_role_is_refused_on_post(marketer, client_for, failed):
    client = client_for(marketer)
    assert client.get(reverse("notifications:outbox_detail", args=[failed.pk])).status_code == 200
    assert client.post(reverse("notifications:outbox_resend", args=[failed.pk])).status_code == 403
    failed.refresh_from_db()
    assert failed.status == Status.FAILED


def test_resend_of_a_sent_message_is_a_friendly_error(manager, client_for, branch):
    row = OutboxFactory(branch=branch, status=Status.SENT)
    response = client_for(manager).post(reverse("notifications:outbox_resend", args=[row.pk]), follow=True)
    assert response.status_code == 200
    assert Outbox.objects.get(pk=row.pk).status == Status.SENT


def test_resend_requires_post(manager, client_for, failed):
    assert (
        client_for(manager).get(reverse("notifications:outbox_resend", args=[failed.pk])).status_code == 405
    )


def test_nav_entry_follows_the_permission(manager, front_desk, client_for):
    url = reverse("notifications:outbox_list")
    assert url in client_for(manager).get(reverse("home")).content.decode()
    assert url not in client_for(front_desk).get(reverse("home")).content.decode()


# --- admin --------------------------------------------------------------------------------


def test_admin_template_preview_and_missing_variable_error(hq_admin, client_for):
    client = client_for(hq_admin)
    data = {
        "key": "birthday.care",
        "channel": "sms",
        "language": "zh-hans",
        "name": "生日关怀",
        "subject": "",
        "body": "{name}，祝您生日快乐！",
        "is_active": "on",
        "wechat_fields": "{}",
        "sample_params": '{"nickname": "张三"}',
    }
    response = client.post(reverse("admin:notifications_messagetemplate_add"), data)
    assert response.status_code == 200
    assert "缺少模板变量：name" in response.content.decode()
    assert not MessageTemplate.objects.filter(key="birthday.care").exists()
    data["sample_params"] = '{"name": "张三"}'
    response = client.post(reverse("admin:notifications_messagetemplate_add"), data, follow=True)
    assert "张三，祝您生日快乐！" in response.content.decode()
    assert MessageTemplate.objects.filter(key="birthday.care").exists()
    assert AuditLog.objects.filter(action="notifications.messagetemplate.created").exists()


def test_admin_outbox_masks_and_resends_with_permission(hq_admin, client_for, failed):
    MessageTemplateFactory()
    client = client_for(hq_admin)
    html = client.get(reverse("admin:notifications_outbox_changelist")).content.decode()
    assert "138****5678" in html and "+8613812345678" not in html
    client.post(
        reverse("admin:notifications_outbox_changelist"),
        {"action": "resend_failed", "_selected_action": [failed.pk]},
    )
    failed.refresh_from_db()
    assert failed.status == Status.PENDING


def test_admin_outbox_resend_action_hidden_without_permission(manager, client_for, failed):
    # Branch managers may resend too; a role without the permission never gets admin.
    html = client_for(manager).get(reverse("admin:notifications_outbox_changelist")).content.decode()
    assert "resend_failed" in html
