"""The outbox rules: dedupe, consent, exclusive claims, retry and backoff, permanent
failure, crash recovery, quiet hours, rate limit, opt-out, rendering in both languages."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction

from clinic.models import AuditLog
from clinic.notifications import services
from clinic.notifications.backends import locmem
from clinic.notifications.errors import (
    NotificationError,
    PermanentSendError,
    TemplateRenderError,
    TransientSendError,
)
from clinic.notifications.models import Channel, MessageTemplate, OptOutScope, Outbox, Purpose, Status
from clinic.notifications.rendering import render_message, render_template, variables
from clinic.notifications.sending import in_quiet_hours, outbox_claim, retry_delay
from tests.notifications.factories import REMINDER_PARAMS, MessageTemplateFactory, reminder_templates

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = "+8613812345678"


def enqueue(**overrides) -> Outbox:
    kwargs = {
        "channel": Channel.SMS,
        "recipient": PHONE,
        "template_key": "appointment.reminder",
        "params": REMINDER_PARAMS,
        "purpose": Purpose.SERVICE,
        "dedupe_key": "appointment:1:reminder-24h",
    }
    kwargs.update(overrides)
    with transaction.atomic():
        return services.notification_enqueue(**kwargs)


@pytest.fixture
def templates(db):
    return reminder_templates()


# --- enqueue ------------------------------------------------------------------------------


def test_enqueue_writes_one_pending_row(templates):
    row = enqueue(recipient="138 1234 5678")
    assert row.was_created and row.pk
    stored = Outbox.objects.get(pk=row.pk)
    assert stored.status == Status.PENDING and stored.recipient == PHONE
    assert stored.params == REMINDER_PARAMS and stored.attempts == 0


def test_same_dedupe_key_twice_is_a_noop_returning_the_first_row(templates):
    first = enqueue()
    second = enqueue(params={"name": "李四", "start": "x", "service": "y"})
    assert second.pk == first.pk and not second.was_created
    assert Outbox.objects.count() == 1 and Outbox.objects.get().params["name"] == "张三"


def test_enqueue_is_part_of_the_callers_transaction(templates):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.notification_enqueue(
            channel=Channel.SMS,
            recipient=PHONE,
            template_key="appointment.reminder",
            params=REMINDER_PARAMS,
            purpose=Purpose.SERVICE,
            dedupe_key="rolled-back",
        )
        raise RuntimeError("the caller's work failed")
    assert not Outbox.objects.exists()


def test_marketing_without_consent_reference_is_refused(templates):
    with pytest.raises(NotificationError) as info:
        enqueue(purpose=Purpose.MARKETING, dedupe_key="promo:1")
    assert info.value.field == "consent_ref"
    assert "同意" in str(info.value.message)
    row = enqueue(purpose=Purpose.MARKETING, dedupe_key="promo:1", consent_ref="consent:42")
    assert row.consent_ref == "consent:42"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "fax"),
        ("purpose", "spam"),
        ("recipient", "not-a-phone"),
        ("template_key", "no.such.template"),
        ("dedupe_key", ""),
        ("language", "fr"),
    ],
)
def test_enqueue_refuses_bad_input(templates, field, value):
    with pytest.raises(NotificationError):
        enqueue(**{field: value})


def test_not_before_delays_the_message(templates):
    later = dt.datetime(2030, 1, 1, 9, tzinfo=SHANGHAI)
    row = enqueue(not_before=later)
    assert row.next_attempt_at == later
    assert services.outbox_send_due(budget_seconds=5)["sent"] == 0


@pytest.mark.django_db(transaction=True)
def test_dedupe_holds_under_concurrent_enqueue():
    """Eight threads enqueue the same key at once: one row, and every caller gets it."""
    reminder_templates()
    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            with transaction.atomic():
                row = services.notification_enqueue(
                    channel=Channel.SMS,
                    recipient=PHONE,
                    template_key="appointment.reminder",
                    params=REMINDER_PARAMS,
                    purpose=Purpose.SERVICE,
                    dedupe_key="appointment:7:reminder",
                )
            results.append((row.pk, row.was_created))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Outbox.objects.filter(dedupe_key="appointment:7:reminder").count() == 1
    assert len({pk for pk, _created in results}) == 1
    assert sum(created for _pk, created in results) == 1


# --- sending ------------------------------------------------------------------------------


def test_send_due_sends_and_records(templates):
    row = enqueue()
    counts = services.outbox_send_due(budget_seconds=5)
    assert counts["sent"] == 1
    row.refresh_from_db()
    assert row.status == Status.SENT and row.attempts == 1 and row.sent_at
    assert row.provider_message_id == f"locmem-{row.pk}"
    assert row.body == "【微笑口腔】张三您好，您预约了5月6日 10:00的超声洁牙，请准时到店。"
    assert [m.outbox_id for m in locmem.outbox] == [row.pk]
    # A second run has nothing to do.
    assert services.outbox_send_due(budget_seconds=5)["sent"] == 0


def test_message_is_rendered_in_the_recipients_language(templates):
    enqueue(language="en", dedupe_key="en")
    enqueue(language="zh-hans", dedupe_key="zh", recipient="+8613900001111")
    services.outbox_send_due(budget_seconds=5)
    bodies = {m.language: m.body for m in locmem.outbox}
    assert bodies["en"] == "Hello 张三, you have 超声洁牙 booked for 5月6日 10:00. See you soon."
    assert bodies["zh-hans"].startswith("【微笑口腔】张三您好")


def test_transient_failure_retries_with_exponential_backoff(templates, settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 60
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    row = enqueue()
    locmem.failures[PHONE] = [TransientSendError("busy", code="isp.SYSTEM_ERROR")] * 3
    start = dt.datetime(2030, 3, 1, 10, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False) as traveller:
        services.outbox_send_due(budget_seconds=5)
        row.refresh_from_db()
        assert row.status == Status.PENDING and row.attempts == 1
        assert row.next_attempt_at == start + dt.timedelta(seconds=60)
        assert "isp.SYSTEM_ERROR" in row.last_error
        # Not due yet: nothing happens.
        traveller.shift(dt.timedelta(seconds=30))
        services.outbox_send_due(budget_seconds=5)
        row.refresh_from_db()
        assert row.attempts == 1
        traveller.shift(dt.timedelta(seconds=31))
        services.outbox_send_due(budget_seconds=5)
        row.refresh_from_db()
        assert row.attempts == 2 and row.next_attempt_at == start + dt.timedelta(seconds=61 + 120)
        traveller.shift(dt.timedelta(seconds=121))
        services.outbox_send_due(budget_seconds=5)
        row.refresh_from_db()
        # Third attempt was the last one allowed.
        assert row.status == Status.FAILED and row.attempts == 3
    assert locmem.outbox == []
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]


def test_transient_failure_then_success(templates):
    row = enqueue()
    locmem.failures[PHONE] = [TransientSendError("timeout")]
    with time_machine.travel(dt.datetime(2030, 3, 1, 10, tzinfo=SHANGHAI), tick=False) as traveller:
        services.outbox_send_due(budget_seconds=5)
        traveller.shift(dt.timedelta(minutes=5))
        services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.SENT and row.attempts == 2 and len(locmem.outbox) == 1


def test_permanent_failure_fails_at_once_with_the_reason(templates):
    row = enqueue()
    locmem.failures[PHONE] = [PermanentSendError("invalid mobile number", code="isv.MOBILE_NUMBER_ILLEGAL")]
    counts = services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert counts["failed"] == 1
    assert row.status == Status.FAILED and row.attempts == 1
    assert row.last_error == "isv.MOBILE_NUMBER_ILLEGAL: invalid mobile number"


def test_missing_variable_fails_the_message_instead_of_sending_a_hole(templates):
    row = enqueue(params={"name": "张三"})
    services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.FAILED and "start" in row.last_error and "service" in row.last_error
    assert locmem.outbox == []


def test_crash_recovery_marks_sent_when_the_provider_has_it(templates, settings):
    """A worker sent the message and died before recording it: no second send."""
    settings.NOTIFICATIONS_SENDING_TIMEOUT_SECONDS = 600
    row = enqueue()
    start = dt.datetime(2030, 3, 1, 10, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False) as traveller:
        ids = outbox_claim(token="dead-worker", limit=10)
        assert ids == [row.pk]
        # The dead worker's send reached the provider...
        from clinic.notifications.backends.locmem import LocmemBackend
        from clinic.notifications.sending import _Run

        run = _Run()
        claimed = Outbox.objects.get(pk=row.pk)
        LocmemBackend().send(run.message(claimed, run.render(claimed)))
        # ...and then it crashed. Before the timeout nobody touches the row.
        traveller.shift(dt.timedelta(minutes=5))
        services.outbox_send_due(budget_seconds=5)
        assert Outbox.objects.get(pk=row.pk).status == Status.SENDING
        traveller.shift(dt.timedelta(minutes=6))
        counts = services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert counts["recovered_sent"] == 1
    assert row.status == Status.SENT and row.provider_message_id == f"locmem-{row.pk}"
    assert len(locmem.outbox) == 1


def test_crash_recovery_resends_when_the_provider_never_got_it(templates):
    row = enqueue()
    start = dt.datetime(2030, 3, 1, 10, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False) as traveller:
        outbox_claim(token="dead-worker", limit=10)
        traveller.shift(dt.timedelta(minutes=20))
        counts = services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert counts["recovered_pending"] == 1 and counts["sent"] == 1
    assert row.status == Status.SENT and row.attempts == 2 and len(locmem.outbox) == 1


def test_crash_recovery_without_a_provider_reference_fails_rather_than_risk_a_double(templates, settings):
    settings.NOTIFICATIONS_BACKENDS = {**settings.NOTIFICATIONS_BACKENDS, "sms": "console"}
    row = enqueue()
    with time_machine.travel(dt.datetime(2030, 3, 1, 10, tzinfo=SHANGHAI), tick=False) as traveller:
        outbox_claim(token="dead-worker", limit=10)
        traveller.shift(dt.timedelta(minutes=20))
        services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.FAILED and "再次发送" in row.last_error


def test_a_late_worker_cannot_overwrite_a_recovered_row(templates):
    row = enqueue()
    outbox_claim(token="slow", limit=10)
    Outbox.objects.filter(pk=row.pk).update(status=Status.SENT, claim_token="recovery")
    from clinic.notifications.sending import _finish

    assert _finish(row, "slow", status=Status.FAILED) is False
    assert Outbox.objects.get(pk=row.pk).status == Status.SENT


@pytest.mark.django_db(transaction=True)
def test_claim_is_exclusive_under_two_concurrent_senders(settings):
    """Two senders sweep 300 rows at the same time: every row is sent exactly once."""
    settings.NOTIFICATIONS_BATCH_SIZE = 20
    reminder_templates()
    with transaction.atomic():
        for n in range(300):
            services.notification_enqueue(
                channel=Channel.SMS,
                recipient=f"+86138000{n:05d}",
                template_key="appointment.reminder",
                params=REMINDER_PARAMS,
                purpose=Purpose.SERVICE,
                dedupe_key=f"bulk:{n}",
            )
    barrier = threading.Barrier(2)
    errors = []

    def sender(name):
        try:
            barrier.wait()
            services.outbox_send_due(budget_seconds=60, worker=name)
        except Exception as exc:  # asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, args=(f"s{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    sent_ids = [m.outbox_id for m in locmem.outbox]
    assert len(sent_ids) == 300 == len(set(sent_ids))
    assert Outbox.objects.filter(status=Status.SENT, attempts=1).count() == 300
    # Both senders took part (skip_locked let them share the work).
    tokens = {t.split("-")[0] for t in Outbox.objects.values_list("claim_token", flat=True)}
    assert tokens == {"s0", "s1"}


# --- rules before sending -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "quiet"),
    [("20:59", False), ("21:00", True), ("23:30", True), ("03:00", True), ("07:59", True), ("08:00", False)],
)
def test_quiet_hours_window(local, quiet):
    hour, minute = map(int, local.split(":"))
    assert in_quiet_hours(dt.datetime(2030, 3, 1, hour, minute, tzinfo=SHANGHAI)) is quiet


def test_marketing_waits_out_quiet_hours_but_service_messages_do_not(templates):
    promo = enqueue(purpose=Purpose.MARKETING, consent_ref="consent:1", dedupe_key="promo")
    reminder = enqueue(dedupe_key="reminder", recipient="+8613900001111")
    with time_machine.travel(dt.datetime(2030, 3, 1, 22, 30, tzinfo=SHANGHAI), tick=False) as traveller:
        services.outbox_send_due(budget_seconds=5)
        promo.refresh_from_db()
        reminder.refresh_from_db()
        assert reminder.status == Status.SENT and promo.status == Status.PENDING
        traveller.move_to(dt.datetime(2030, 3, 2, 7, 59, tzinfo=SHANGHAI))
        services.outbox_send_due(budget_seconds=5)
        promo.refresh_from_db()
        assert promo.status == Status.PENDING
        traveller.move_to(dt.datetime(2030, 3, 2, 8, 0, tzinfo=SHANGHAI))
        services.outbox_send_due(budget_seconds=5)
    promo.refresh_from_db()
    assert promo.status == Status.SENT


def test_quiet_hours_follow_the_setting(templates, settings):
    settings.NOTIFICATIONS_QUIET_HOURS = ("12:00", "13:00")
    promo = enqueue(purpose=Purpose.MARKETING, consent_ref="consent:1", dedupe_key="promo")
    with time_machine.travel(dt.datetime(2030, 3, 1, 12, 30, tzinfo=SHANGHAI), tick=False):
        services.outbox_send_due(budget_seconds=5)
    promo.refresh_from_db()
    assert promo.status == Status.PENDING


def test_rate_limit_per_channel(templates, settings):
    settings.NOTIFICATIONS_RATE_LIMITS = {"sms": 5}
    for n in range(8):
        enqueue(dedupe_key=f"sms:{n}", recipient=f"+86139000000{n:02d}")
    enqueue(channel=Channel.EMAIL, recipient="a@example.com", dedupe_key="mail")
    with time_machine.travel(dt.datetime(2030, 3, 1, 10, tzinfo=SHANGHAI), tick=False) as traveller:
        counts = services.outbox_send_due(budget_seconds=5)
        # Five SMS this minute, e-mail has no limit.
        assert counts["sent"] == 6
        assert Outbox.objects.filter(channel=Channel.SMS, status=Status.PENDING).count() == 3
        traveller.shift(dt.timedelta(seconds=30))
        assert services.outbox_send_due(budget_seconds=5)["sent"] == 0
        traveller.shift(dt.timedelta(seconds=31))
        assert services.outbox_send_due(budget_seconds=5)["sent"] == 3


@time_machine.travel(dt.datetime(2030, 3, 1, 10, 0, tzinfo=SHANGHAI), tick=False)  # outside quiet hours
def test_opt_out_skips_marketing_but_not_service(templates):
    services.optout_set(actor=None, channel=Channel.SMS, recipient="13812345678", reason="回复TD退订")
    promo = enqueue(purpose=Purpose.MARKETING, consent_ref="consent:1", dedupe_key="promo")
    reminder = enqueue(dedupe_key="reminder")
    counts = services.outbox_send_due(budget_seconds=5)
    promo.refresh_from_db()
    reminder.refresh_from_db()
    assert counts == {"sent": 1, "skipped": 1}
    assert promo.status == Status.SKIPPED and reminder.status == Status.SENT
    assert AuditLog.objects.filter(action="notifications.optout.set").exists()


def test_opt_out_of_everything_and_withdrawal(templates):
    services.optout_set(actor=None, channel=Channel.SMS, recipient=PHONE, scope=OptOutScope.ALL)
    row = enqueue()
    services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.SKIPPED
    assert services.optout_remove(actor=None, channel=Channel.SMS, recipient=PHONE)
    enqueue(dedupe_key="again")
    assert services.outbox_send_due(budget_seconds=5)["sent"] == 1


def test_resend_puts_a_failed_message_back_and_is_audited(templates, manager):
    row = enqueue()
    locmem.failures[PHONE] = [PermanentSendError("user refused", code="43101")]
    services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.FAILED
    services.outbox_resend(actor=manager, message=row)
    row.refresh_from_db()
    assert row.status == Status.PENDING and row.attempts == 0
    assert AuditLog.objects.filter(action="notifications.outbox.resent", actor=manager).exists()
    services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.SENT and len(locmem.outbox) == 1


def test_resend_refuses_a_message_that_did_not_fail(templates, manager):
    row = enqueue()
    with pytest.raises(NotificationError):
        services.outbox_resend(actor=manager, message=row)


# --- rendering ------------------------------------------------------------------------------


def test_template_rendering_in_chinese_and_english(templates):
    zh = render_message("appointment.reminder", Channel.SMS, "zh-hans", REMINDER_PARAMS)
    en = render_message("appointment.reminder", Channel.SMS, "en", REMINDER_PARAMS)
    assert zh.body == "【微笑口腔】张三您好，您预约了5月6日 10:00的超声洁牙，请准时到店。"
    assert en.body == "Hello 张三, you have 超声洁牙 booked for 5月6日 10:00. See you soon."
    assert en.subject == "Your appointment" and en.language == "en"


def test_a_language_without_its_own_template_falls_back_to_chinese(db):
    MessageTemplateFactory(key="birthday.care", body="{name}，生日快乐！")
    rendered = render_message("birthday.care", Channel.SMS, "en", {"name": "王五"})
    assert rendered.body == "王五，生日快乐！" and rendered.language == "zh-hans"


def test_numbers_are_formatted_in_the_recipients_language(db):
    zh = MessageTemplateFactory(key="points.expiry", body="您有{points}积分将于{date}到期")
    en = MessageTemplateFactory(key="points.expiry", language="en", body="{points} points expire on {date}")
    params = {"points": 1200, "date": dt.date(2030, 6, 30)}
    assert render_template(zh, params).body == "您有1200积分将于2030年6月30日到期"
    assert render_template(en, params).body == "1200 points expire on June 30, 2030"


def test_missing_variable_is_an_error(templates):
    with pytest.raises(TemplateRenderError) as info:
        render_message("appointment.reminder", Channel.SMS, "zh-hans", {"name": "张三", "start": ""})
    assert "start" in str(info.value.message) and "service" in str(info.value.message)
    assert "缺少" in str(info.value.message)


def test_template_syntax_is_plain_substitution_not_format(db):
    template = MessageTemplate(key="x", channel=Channel.SMS, language="en", body="{name.__class__} {name}")
    assert variables(template.body) == ["name"]
    assert render_template(template, {"name": "A"}).body == "{name.__class__} A"


def test_unknown_template_at_send_time_fails_the_message(templates):
    row = enqueue()
    MessageTemplate.objects.filter(key="appointment.reminder").update(is_active=False)
    services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.FAILED


@time_machine.travel(dt.datetime(2030, 3, 1, 10, 0, tzinfo=SHANGHAI), tick=False)  # outside quiet hours
def test_sms_to_a_landline_is_skipped_not_sent(templates):
    landline = enqueue(recipient="021-6288 1234", dedupe_key="landline")
    mobile = enqueue(dedupe_key="mobile")
    counts = services.outbox_send_due(budget_seconds=5)
    landline.refresh_from_db()
    mobile.refresh_from_db()
    assert counts == {"sent": 1, "skipped": 1}
    assert landline.status == Status.SKIPPED and "固定电话" in landline.last_error
    assert mobile.status == Status.SENT
    assert [m.outbox_id for m in locmem.outbox] == [mobile.pk]
