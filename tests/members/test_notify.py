from __future__ import annotations

import pytest

from clinic.notifications.models import Channel, OptOut, OptOutScope, Outbox, Purpose
from members import services
from members.models import ConsentKind
from members.notify import NotifyRefused, member_notify
from tests.notifications.factories import MessageTemplateFactory

from .factories import make_member

pytestmark = pytest.mark.django_db

PARAMS = {"name": "张三", "start": "5月6日 10:00", "service": "洁牙"}


@pytest.fixture
def templates():
    MessageTemplateFactory(channel=Channel.SMS)
    MessageTemplateFactory(
        channel=Channel.SMS, key="promo.cleaning", name="洁牙优惠", body="{name}您好，洁牙八折。"
    )


def notify(member, purpose=Purpose.SERVICE, key="appointment.reminder", **kw):
    return member_notify(member=member, template_key=key, params=PARAMS, purpose=purpose, **kw)


def test_service_message_needs_no_marketing_consent(branch, templates):
    m = make_member(branch, phone="13812345678")
    row = notify(m)
    assert row.recipient == "+8613812345678" and row.purpose == Purpose.SERVICE and row.consent_ref == ""
    assert notify(m).pk == row.pk  # the same message twice is queued once


def test_marketing_needs_a_granted_consent_and_withdrawal_stops_it_at_once(branch, front_desk, templates):
    m = make_member(branch, phone="13812345678")
    with pytest.raises(NotifyRefused) as exc:
        notify(m, Purpose.MARKETING, "promo.cleaning")
    assert exc.value.code == "no_consent"
    services.consent_grant(actor=front_desk, member=m, kind=ConsentKind.MARKETING_WECHAT, channel="paper")
    with pytest.raises(NotifyRefused):  # WeChat consent is not SMS consent
        notify(m, Purpose.MARKETING, "promo.cleaning")
    consent = services.consent_grant(
        actor=front_desk, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper"
    )
    row = notify(m, Purpose.MARKETING, "promo.cleaning")
    assert row.consent_ref == str(consent.pk)
    services.consent_withdraw(actor=front_desk, consent=consent)
    with pytest.raises(NotifyRefused):
        notify(m, Purpose.MARKETING, "promo.cleaning", dedupe_key="promo:2")
    assert Outbox.objects.count() == 1


def test_opt_outs_and_restricted_records(branch, front_desk, manager, templates):
    m = make_member(branch, phone="13812345678")
    services.consent_grant(actor=front_desk, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper")
    services.member_opt_out_set(actor=front_desk, member=m, opt_out=True)
    with pytest.raises(NotifyRefused) as exc:
        notify(m, Purpose.MARKETING, "promo.cleaning")
    assert exc.value.code == "opted_out"
    notify(m)  # service messages still go
    OptOut.objects.create(channel=Channel.SMS, recipient="+8613812345678", scope=OptOutScope.ALL)
    with pytest.raises(NotifyRefused):
        notify(m, dedupe_key="x")
    other = make_member(branch, phone="13900001111")
    services.member_erase(actor=manager, member=other, reason="本人申请")
    with pytest.raises(NotifyRefused) as exc:
        notify(other)
    assert exc.value.code == "inactive"
    nophone = make_member(branch, phone="", name="无手机")
    with pytest.raises(NotifyRefused):
        notify(nophone)
