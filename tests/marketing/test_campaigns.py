"""Campaigns and events (issue 16): sign-up with a waiting list promoted in order, check-in
by card/QR code or by person, attendance rewarded once, no-show follow-up tasks."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from clinic.models import AuditLog
from followups.models import Task
from loyalty.coupon_models import Coupon, CouponKind, CouponTemplate
from loyalty.models import PointsEntry
from loyalty.services.ledger import account_open
from marketing import campaigns
from marketing.campaign_apps import signup_before_move
from marketing.errors import MarketingError
from marketing.models import CampaignKind, CampaignSignup, SignupStatus
from tests.members.factories import make_member


def _campaign(actor, branch, **kw):
    start = kw.pop("starts_at", timezone.now() + dt.timedelta(days=2))
    return campaigns.campaign_create(
        actor=actor,
        branch=branch,
        name=kw.pop("name", "会员日"),
        kind=kw.pop("kind", CampaignKind.MEMBER_DAY),
        starts_at=start,
        ends_at=kw.pop("ends_at", start + dt.timedelta(hours=3)),
        **kw,
    )


def test_create_is_audited_and_checked(marketer, branch, other_branch):
    c = _campaign(marketer, branch, capacity=2, budget="1500", channels="wechat,sms")
    assert c.budget == Decimal("1500.00")
    assert AuditLog.objects.filter(action="marketing.campaign.created").count() == 1
    with pytest.raises(MarketingError):
        _campaign(marketer, other_branch)
    with pytest.raises(MarketingError):
        _campaign(marketer, branch, ends_at=timezone.now())
    with pytest.raises(MarketingError):
        _campaign(marketer, branch, kind="nope")
    with pytest.raises(MarketingError):
        _campaign(marketer, branch, name="  ")


def test_waiting_list_is_promoted_in_order(marketer, branch):
    c = _campaign(marketer, branch, capacity=1)
    a, b, d = (make_member(branch, name=n) for n in ("甲", "乙", "丙"))
    sa = campaigns.signup_create(actor=marketer, campaign=c, member=a)
    sb = campaigns.signup_create(actor=marketer, campaign=c, member=b)
    sd = campaigns.signup_create(actor=marketer, campaign=c, member=d)
    assert [sa.status, sb.status, sd.status] == ["confirmed", "waiting", "waiting"]
    with pytest.raises(MarketingError):
        campaigns.signup_create(actor=marketer, campaign=c, member=a)
    promoted = campaigns.signup_cancel(actor=marketer, signup=sa)
    assert [p.member_id for p in promoted] == [b.pk]
    sd.refresh_from_db()
    assert sd.status == SignupStatus.WAITING
    # Signing up again after cancelling goes to the end of the line.
    again = campaigns.signup_create(actor=marketer, campaign=c, member=a)
    assert again.pk == sa.pk and again.status == SignupStatus.WAITING
    campaigns.signup_cancel(actor=marketer, signup=sb)
    sd.refresh_from_db()
    again.refresh_from_db()
    assert (sd.status, again.status) == ("confirmed", "waiting")
    assert campaigns.signup_cancel(actor=marketer, signup=sb) == []


def test_checkin_by_card_code_and_walk_in(marketer, front_desk, branch):
    c = _campaign(marketer, branch, capacity=1)
    a = make_member(branch, name="甲")
    a.card_no = "JA0001023"
    a.save(update_fields=["card_no"])
    campaigns.signup_create(actor=marketer, campaign=c, member=a)
    s = campaigns.checkin(actor=front_desk, campaign=c, code=" ja0001023 ")
    assert s.status == SignupStatus.ATTENDED and s.checked_in_at
    first = s.checked_in_at
    assert campaigns.checkin(actor=front_desk, campaign=c, code="JA0001023").checked_in_at == first
    with pytest.raises(MarketingError):
        campaigns.checkin(actor=front_desk, campaign=c, code="NOPE")
    walk_in = make_member(branch, name="乙")
    w = campaigns.checkin(actor=front_desk, campaign=c, member=walk_in)
    assert w.status == SignupStatus.ATTENDED  # past capacity: they are in the room
    with pytest.raises(MarketingError):
        campaigns.signup_cancel(actor=marketer, signup=w)


def test_checkin_of_other_branch_is_refused(marketer, outsider, branch):
    c = _campaign(marketer, branch)
    with pytest.raises(MarketingError):
        campaigns.checkin(actor=outsider, campaign=c, member=make_member(branch))


def test_attendance_reward_is_given_once(marketer, front_desk, branch):
    tpl = CouponTemplate.objects.create(
        name="活动券", kind=CouponKind.AMOUNT, amount_off=Decimal("50"), per_member_limit=0, valid_days=30
    )
    c = _campaign(marketer, branch, reward_points=100, reward_coupon=tpl)
    a = make_member(branch, name="甲")
    account_open(member=a)
    s = campaigns.signup_create(actor=marketer, campaign=c, member=a)
    with pytest.raises(MarketingError):
        campaigns.attendance_reward(actor=marketer, signup=s)
    campaigns.checkin(actor=front_desk, campaign=c, member=a)
    campaigns.attendance_reward(actor=marketer, signup=s)
    campaigns.attendance_reward(actor=marketer, signup=s)
    # Even with the marker cleared, the ledger and coupon keys keep it to one.
    CampaignSignup.objects.filter(pk=s.pk).update(rewarded_at=None)
    campaigns.attendance_reward(actor=marketer, signup=s)
    assert PointsEntry.objects.filter(account__member=a, kind="earn").count() == 1
    assert Coupon.objects.filter(member=a, template=tpl).count() == 1
    s.refresh_from_db()
    assert s.rewarded_at is not None


def test_no_shows_get_one_followup_task(marketer, branch, clock):
    start = timezone.now() + dt.timedelta(hours=1)
    c = _campaign(marketer, branch, starts_at=start)
    a, b = make_member(branch, name="甲"), make_member(branch, name="乙")
    campaigns.signup_create(actor=marketer, campaign=c, member=a)
    campaigns.signup_create(actor=marketer, campaign=c, member=b)
    campaigns.checkin(actor=marketer, campaign=c, member=a)
    with pytest.raises(MarketingError):
        campaigns.no_show_followups(actor=None, campaign=c)
    clock.shift(dt.timedelta(hours=5))
    assert campaigns.no_show_followups(actor=None, campaign=c) == 1
    assert campaigns.no_show_followups(actor=None, campaign=c) == 0
    assert list(
        Task.objects.filter(source_key__startswith="campaign-noshow:").values_list("member", flat=True)
    ) == [b.pk]


def test_merge_keeps_the_sign_up_that_got_further(marketer, branch):
    c = _campaign(marketer, branch)
    a, b = make_member(branch, name="甲"), make_member(branch, name="乙")
    campaigns.signup_create(actor=marketer, campaign=c, member=a)
    sb = campaigns.signup_create(actor=marketer, campaign=c, member=b)
    campaigns.checkin(actor=marketer, campaign=c, member=b)
    signup_before_move(b, a)
    assert list(CampaignSignup.objects.values_list("pk", flat=True)) == [sb.pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_sign_ups_never_exceed_capacity(marketer, branch):
    c = _campaign(marketer, branch, capacity=2)
    people = [make_member(branch, name=f"人{i}") for i in range(6)]
    barrier = threading.Barrier(len(people))

    def sign(person):
        try:
            barrier.wait()
            campaigns.signup_create(actor=marketer, campaign=c, member=person)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(CampaignSignup.objects.filter(campaign=c).values_list("status", flat=True))
    assert statuses == ["confirmed"] * 2 + ["waiting"] * 4


def test_a_non_member_gets_the_coupon_but_no_points(marketer, branch):
    tpl = CouponTemplate.objects.create(
        name="活动券", kind=CouponKind.AMOUNT, amount_off=Decimal("50"), valid_days=30
    )
    c = _campaign(marketer, branch, reward_points=100, reward_coupon=tpl)
    a = make_member(branch, name="甲")
    s = campaigns.checkin(actor=marketer, campaign=c, member=a)
    campaigns.attendance_reward(actor=marketer, signup=s)
    assert Coupon.objects.filter(member=a).count() == 1
    assert not PointsEntry.objects.filter(account__member=a).exists()


def test_lucky_draw_is_recorded_and_reproducible(marketer, branch):
    from marketing.campaigns import draw_create, draw_verify, draw_winners

    c = _campaign(marketer, branch, kind=CampaignKind.LOTTERY)
    people = [make_member(branch, name=f"人{i}") for i in range(5)]
    for p in people[:4]:
        campaigns.checkin(actor=marketer, campaign=c, member=p)
    campaigns.signup_create(actor=marketer, campaign=c, member=people[4])  # not checked in
    with pytest.raises(MarketingError):
        draw_create(actor=marketer, campaign=c, prize="电动牙刷", count=0)
    first = draw_create(actor=marketer, campaign=c, prize="电动牙刷", count=2, seed="abc")
    assert first.candidates == sorted(p.pk for p in people[:4])
    assert len(first.winners) == 2 and set(first.winners) <= set(first.candidates)
    assert draw_winners("abc", list(reversed(first.candidates)), 2) == first.winners
    assert draw_verify(first)
    second = draw_create(actor=marketer, campaign=c, prize="牙线", count=5)
    assert set(second.candidates) == set(first.candidates) - set(first.winners)
    assert set(second.winners) == set(second.candidates)
    with pytest.raises(MarketingError):
        draw_create(actor=marketer, campaign=c, prize="牙膏", count=1)
    assert AuditLog.objects.filter(action="marketing.campaign.drawn").count() == 2


def test_results_count_attendance_new_people_and_revenue(marketer, branch):
    from loyalty.models import Membership
    from loyalty.services.enrolment import membership_enrol
    from marketing.campaign_selectors import campaign_results

    old = make_member(branch, name="老客")
    c = _campaign(marketer, branch, budget="600")
    new1, new2 = make_member(branch, name="新甲"), make_member(branch, name="新乙")
    absent = make_member(branch, name="未到")
    for p in (old, new1, new2, absent):
        campaigns.signup_create(actor=marketer, campaign=c, member=p)
    for p in (old, new1, new2):
        campaigns.checkin(actor=marketer, campaign=c, member=p)
    membership_enrol(actor=marketer, member=new1, branch=branch)
    Membership.objects.filter(member=new1).update(enrolled_at=c.starts_at + dt.timedelta(days=3))
    r = campaign_results(c)
    assert (r.signups, r.attended, r.new_people, r.new_members) == (4, 3, 2, 1)
    assert r.attendance_rate == Decimal("0.7500")
    assert r.cost_per_new_person == Decimal("300.00")
    assert (r.bookings, r.revenue) == (0, Decimal("0.00"))


def test_reminders_a_day_and_two_hours_before_to_the_confirmed_only(marketer, branch):
    from clinic.notifications.models import Outbox
    from marketing.campaigns import campaign_reminders_send

    start = timezone.now() + dt.timedelta(days=3)
    c = _campaign(marketer, branch, capacity=1, starts_at=start)
    a, b = make_member(branch, name="甲"), make_member(branch, name="乙")
    campaigns.signup_create(actor=marketer, campaign=c, member=a)
    campaigns.signup_create(actor=marketer, campaign=c, member=b)  # waiting: no reminder
    assert campaign_reminders_send(now=start - dt.timedelta(days=2)) == 0
    assert campaign_reminders_send(now=start - dt.timedelta(hours=20)) == 1
    assert campaign_reminders_send(now=start - dt.timedelta(hours=19)) == 0
    assert campaign_reminders_send(now=start - dt.timedelta(hours=1)) == 1
    rows = Outbox.objects.filter(dedupe_key__startswith=f"campaign:{c.pk}:")
    assert sorted(rows.values_list("template_key", flat=True)) == [
        "marketing.campaign_reminder_day",
        "marketing.campaign_reminder_soon",
    ]
    assert {r.recipient for r in rows} == {a.phone}


def test_seed_demo_has_a_past_campaign_with_results_and_an_upcoming_one(db):
    from django.core.management import call_command

    from marketing.campaign_demo import PAST, UPCOMING
    from marketing.campaign_selectors import campaign_results
    from marketing.models import Campaign, CampaignDraw

    call_command("seed_demo", "--quiet")
    call_command("seed_demo", "--quiet")  # idempotent
    past, upcoming = Campaign.objects.get(name=PAST), Campaign.objects.get(name=UPCOMING)
    assert past.ends_at < timezone.now() < upcoming.starts_at
    r = campaign_results(past)
    assert (r.signups, r.attended) == (8, 6)
    assert CampaignDraw.objects.filter(campaign=past).count() == 1
    # Its event survey (followups' demo): four answers make the feedback score, the rest open.
    assert (r.feedback.answers, r.feedback.score_avg, r.feedback.satisfied_rate) == (
        4,
        Decimal("4.3"),
        Decimal("0.7500"),
    )
    assert Task.objects.filter(source_key__startswith=f"campaign-noshow:{past.pk}:").count() == 2
    statuses = sorted(upcoming.signups.values_list("status", flat=True))
    # 3 places taken, the rest wait (the portal's demo family signs a child up too).
    assert statuses.count("confirmed") == 3 and statuses.count("waiting") >= 2
    assert set(statuses) == {"confirmed", "waiting"}
