"""Broadcasts (issue 16): the audience waterfall (segment − no consent − opted out − no address
− over the contact cap) with its quadrant breakdown, stored with the consent of the moment;
approval of large audiences; set-based enqueue that queues each person once even when started
twice at once; the contact cap counted across apps in the outbox."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from clinic.models import AuditLog
from clinic.notifications import services as outbox_services
from clinic.notifications.models import Channel, ContactCap, OptOutScope, Outbox, Purpose
from marketing import broadcast_services as bs
from marketing import segments
from marketing.broadcast_models import BroadcastRecipient, BroadcastSettings, BroadcastStatus
from marketing.errors import MarketingError
from members import services as member_services
from members.models import ConsentKind
from members.notify import NotifyRefused, member_notify
from tests.members.factories import make_member
from tests.notifications.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db

TEXT = "{name}您好，{branch}本周洁牙八折，欢迎预约。回T退订"


def _people(branch, actor):
    """Six people, one per waterfall outcome (and two included)."""
    ok1 = make_member(branch, name="可发一", phone="13800000001")
    ok2 = make_member(branch, name="可发二", phone="13800000002")
    no_consent = make_member(branch, name="无同意", phone="13800000003")
    opted = make_member(branch, name="退订", phone="13800000004")
    no_phone = make_member(branch, name="无号码", phone="")
    capped = make_member(branch, name="已满", phone="13800000006")
    for m in (ok1, ok2, opted, no_phone, capped):
        member_services.consent_grant(actor=actor, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper")
    outbox_services.optout_set(
        actor=actor, channel=Channel.SMS, recipient=opted.phone, scope=OptOutScope.MARKETING
    )
    ContactCap.objects.create(pk=1, limit=1)
    MessageTemplateFactory(channel=Channel.SMS, key="promo.other", name="其他促销", body="{name}")
    member_notify(member=capped, template_key="promo.other", params={"name": "x"}, purpose=Purpose.MARKETING)
    return {
        "ok1": ok1,
        "ok2": ok2,
        "no_consent": no_consent,
        "opted": opted,
        "no_phone": no_phone,
        "capped": capped,
    }


def _broadcast(marketer, branch, **kw):
    seg = segments.segment_create(actor=marketer, name="全部", branch=branch, filters={})
    return bs.broadcast_create(
        actor=marketer, segment=seg, channel=kw.pop("channel", Channel.SMS), name="洁牙八折", body=TEXT, **kw
    )


def test_waterfall_counts_each_step_with_quadrants_and_stores_consent(branch, marketer, front_desk):
    people = _people(branch, front_desk)
    b = _broadcast(marketer, branch)
    steps = {s["code"]: (s["removed"], s["remaining"]) for s in b.waterfall["steps"]}
    assert b.waterfall["segment"] == 6
    assert steps == {"no_consent": (1, 5), "opted_out": (1, 4), "no_address": (1, 3), "over_cap": (1, 2)}
    assert b.waterfall["steps"][0]["removed_quadrants"] == {"hh": 0, "hl": 0, "lh": 0, "ll": 1}
    assert b.audience_count == 2 and b.status == BroadcastStatus.READY
    rows = {r.member_id: r for r in BroadcastRecipient.objects.filter(broadcast=b)}
    assert rows[people["ok1"].pk].outcome == "included" and rows[people["ok1"].pk].consent_id
    assert rows[people["no_consent"].pk].consent_id is None
    assert rows[people["capped"].pk].contacts_in_window == 1
    # Sent: exactly the included ones, as marketing messages carrying their consent.
    assert bs.broadcast_send(actor=marketer, broadcast=b) == 2
    queued = Outbox.objects.filter(dedupe_key__startswith=f"broadcast:{b.pk}:")
    assert {o.recipient for o in queued} == {"+8613800000001", "+8613800000002"}
    assert all(
        o.purpose == "marketing" and o.consent_ref and o.person_key.startswith("member:") for o in queued
    )
    assert bs.broadcast_send(actor=marketer, broadcast=b) == 0  # again: nobody twice
    b.refresh_from_db()
    assert b.status == BroadcastStatus.QUEUED and b.queued_count == 2
    assert AuditLog.objects.filter(action="marketing.broadcast.queued").count() == 2


def test_large_audiences_need_another_persons_approval(branch, marketer, manager, front_desk):
    _people(branch, front_desk)
    BroadcastSettings.objects.create(pk=1, approval_threshold=1)
    b = _broadcast(marketer, branch)
    assert b.status == BroadcastStatus.AWAITING_APPROVAL
    with pytest.raises(MarketingError) as exc:
        bs.broadcast_send(actor=marketer, broadcast=b)
    assert exc.value.code == "needs_approval"
    with pytest.raises(MarketingError):
        bs.broadcast_approve(actor=marketer, broadcast=b)  # 市场 holds no approval
    b = bs.broadcast_approve(actor=manager, broadcast=b)
    assert b.status == BroadcastStatus.READY and b.approved_by == manager
    # A refreshed audience needs approving again.
    b = bs.broadcast_refresh(actor=marketer, broadcast=b)
    assert b.status == BroadcastStatus.AWAITING_APPROVAL and b.approved_by is None


def test_a_consent_withdrawn_after_fixing_the_audience_stops_the_message(branch, marketer, front_desk):
    people = _people(branch, front_desk)
    b = _broadcast(marketer, branch)
    member_services.consent_withdraw(actor=front_desk, consent=people["ok2"].consents.get())
    assert bs.broadcast_send(actor=marketer, broadcast=b) == 1


def test_text_checks_and_sms_parts(branch, marketer):
    seg = segments.segment_create(actor=marketer, name="全部", branch=branch, filters={})
    with pytest.raises(MarketingError):
        bs.broadcast_create(actor=marketer, segment=seg, channel="sms", name="x", body="{nope}您好")
    with pytest.raises(MarketingError):
        bs.broadcast_create(actor=marketer, segment=seg, channel="email", name="x", body="您好")  # no subject
    assert bs.sms_parts("字" * 70) == 1 and bs.sms_parts("字" * 71) == 2 and bs.sms_parts("字" * 135) == 3
    assert bs.cost_estimate("字" * 71, 100) == Decimal("9.00")


def test_the_contact_cap_counts_every_apps_marketing_and_capped_messages(branch, front_desk):
    from clinic.notifications.contact_cap import capped_templates

    assert "followups.birthday" in capped_templates() and "appointment.reminder" not in capped_templates()
    ContactCap.objects.create(pk=1, limit=2)
    m = make_member(branch, phone="13800000009")
    member_services.consent_grant(actor=front_desk, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper")
    MessageTemplateFactory(channel=Channel.SMS, key="promo.a", name="促销", body="{name}")
    MessageTemplateFactory(channel=Channel.SMS, key="followups.birthday", name="生日", body="{name}")
    MessageTemplateFactory(channel=Channel.SMS)  # appointment.reminder: a service message

    def send(key, purpose, n):
        return member_notify(
            member=m, template_key=key, params={"name": str(n)}, purpose=purpose, dedupe_key=f"k{n}"
        )

    send("promo.a", Purpose.MARKETING, 1)
    send("followups.birthday", Purpose.SERVICE, 2)  # counted although a service message
    with pytest.raises(NotifyRefused) as exc:
        send("promo.a", Purpose.MARKETING, 3)
    assert exc.value.code == "contact_cap"
    send("appointment.reminder", Purpose.SERVICE, 4)  # service messages are exempt
    assert send("promo.a", Purpose.MARKETING, 1).was_created is False  # the same message again is no new one


@pytest.mark.django_db(transaction=True)
def test_starting_the_same_broadcast_twice_at_once_sends_each_person_once(branch, marketer, front_desk):
    people = [make_member(branch, name=f"客{i}", phone=f"139000000{i:02d}") for i in range(30)]
    for m in people:
        member_services.consent_grant(
            actor=front_desk, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper"
        )
    b = _broadcast(marketer, branch)
    assert b.audience_count == 30
    barrier = threading.Barrier(2)
    results = []

    def start():
        try:
            barrier.wait()
            results.append(bs.broadcast_send(actor=marketer, broadcast=b))
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[-1] + sorted(results)[0] == 30
    keys = list(
        Outbox.objects.filter(dedupe_key__startswith=f"broadcast:{b.pk}:").values_list("recipient", flat=True)
    )
    assert len(keys) == 30 and len(set(keys)) == 30


def test_pages_compose_waterfall_approve_send(branch, marketer, manager, front_desk, client_for):
    from django.urls import reverse

    _people(branch, front_desk)
    BroadcastSettings.objects.create(pk=1, approval_threshold=1)
    seg = segments.segment_create(actor=marketer, name="全部", branch=branch, filters={})
    client = client_for(marketer)
    assert client.get(reverse("marketing:broadcast_create") + f"?segment={seg.pk}").status_code == 200
    prev = client.post(
        reverse("marketing:broadcast_preview"), {"segment": seg.pk, "channel": "sms", "body": TEXT}
    )
    html = prev.content.decode()
    assert "张三您好，静安店本周" in html and 'data-testid="sms-length"' in html
    bad = client.post(
        reverse("marketing:broadcast_create"),
        {"segment": seg.pk, "channel": "sms", "name": "x", "body": "{oops}"},
    )
    assert bad.status_code == 200 and "invalid-feedback" in bad.content.decode()
    r = client.post(
        reverse("marketing:broadcast_create"),
        {"segment": seg.pk, "channel": "sms", "name": "洁牙", "body": TEXT},
    )
    assert r.status_code == 302
    b = seg.broadcasts.get()
    page = client.get(r["Location"]).content.decode()
    assert 'data-testid="waterfall"' in page and "broadcast-approve" not in page
    assert client.post(reverse("marketing:broadcast_approve", args=[b.pk])).status_code == 403
    assert client_for(front_desk).get(reverse("marketing:broadcast_detail", args=[b.pk])).status_code == 403
    mgr = client_for(manager)
    assert "broadcast-approve" in mgr.get(reverse("marketing:broadcast_detail", args=[b.pk])).content.decode()
    mgr.post(reverse("marketing:broadcast_approve", args=[b.pk]))
    assert mgr.post(reverse("marketing:broadcast_send", args=[b.pk])).status_code == 403
    client.post(reverse("marketing:broadcast_send", args=[b.pk]))
    b.refresh_from_db()
    assert b.status == BroadcastStatus.QUEUED and b.queued_count == 2
    page = mgr.get(reverse("marketing:broadcast_detail", args=[b.pk])).content.decode()
    assert 'data-testid="results"' in page
