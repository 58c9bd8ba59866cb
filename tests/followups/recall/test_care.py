"""Care: birthday greetings with the birthday coupon, lunar holidays, anniversaries; through
the outbox with opt-outs, quiet hours and the marketing refusal; once per occasion."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.notifications.models import OptOut, OptOutScope, Outbox
from clinic.notifications.services import optout_set
from followups.care import anniversaries_greet, birthdays_greet, care_run, holiday_date, holidays_greet
from followups.models import CareHoliday
from loyalty.coupon_models import CouponTemplate
from loyalty.models import Membership
from loyalty.services import membership_enrol
from members.models import Member
from tests.members.factories import make_member

from .conftest import local

pytestmark = pytest.mark.django_db


def test_lunar_holidays_fall_on_the_right_gregorian_days():
    spring = CareHoliday.objects.get(code="spring_festival")
    autumn = CareHoliday.objects.get(code="mid_autumn")
    assert holiday_date(spring, 2027) == dt.date(2027, 2, 6)
    assert holiday_date(spring, 2026) == dt.date(2026, 2, 17)
    assert holiday_date(autumn, 2026) == dt.date(2026, 9, 25)
    assert holiday_date(CareHoliday.objects.get(code="national_day"), 2026) == dt.date(2026, 10, 1)


def test_a_holiday_greeting_reaches_everyone_allowed_once(branch, clock):
    ok = make_member(branch, name="王芳")
    en = make_member(branch, name="Anna", language="en")
    refuses = make_member(branch, name="拒绝营销")
    Member.objects.filter(pk=refuses.pk).update(marketing_opt_out=True)
    opted_out = make_member(branch, name="退订")
    optout_set(actor=None, channel="sms", recipient=opted_out.phone, scope=OptOutScope.ALL)
    lead = make_member(branch, name="潜客", stage="lead")
    clock.go(dt.date(2027, 2, 6), 10)  # 春节 2027
    assert holidays_greet() == 2
    assert holidays_greet() == 0
    rows = {r.params["name"]: r for r in Outbox.objects.filter(template_key="followups.holiday")}
    assert set(rows) == {"王芳", "Anna"}
    assert rows["王芳"].params["holiday"] == "春节"
    assert rows["Anna"].params["holiday"] == "Spring Festival" and rows["Anna"].language == "en"
    assert rows["王芳"].dedupe_key == f"care:holiday:spring_festival:2027:{ok.pk}"
    assert not Outbox.objects.filter(recipient__in=[refuses.phone, opted_out.phone, lead.phone]).exists()
    assert en.pk and OptOut.objects.count() == 1


def test_no_greeting_on_an_ordinary_day_or_for_an_inactive_holiday(branch, clock):
    make_member(branch, name="王芳")
    clock.go(dt.date(2026, 10, 2), 10)
    assert holidays_greet() == 0
    CareHoliday.objects.filter(code="national_day").update(is_active=False)
    clock.go(dt.date(2026, 10, 1), 10)
    assert holidays_greet() == 0


def test_a_birthday_greeting_names_the_birthday_coupon_loyalty_issued(branch, clock, settings):
    template = CouponTemplate.objects.create(name="生日礼券", kind="amount", amount_off=50, valid_days=30)
    settings.LOYALTY_AUTO_COUPONS = {"birthday": template.name}
    member = make_member(branch, name="寿星", birth_date=dt.date(1990, 12, 7))
    membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)
    plain = make_member(branch, name="非会员寿星", birth_date=dt.date(1985, 12, 7))
    make_member(branch, name="明天生日", birth_date=dt.date(1985, 12, 8))
    clock.go(dt.date(2026, 12, 7), 9)
    assert birthdays_greet() == 2
    assert birthdays_greet() == 0
    with_coupon = Outbox.objects.get(template_key="followups.birthday_coupon")
    assert (with_coupon.recipient, with_coupon.params["coupon"]) == (member.phone, "生日礼券")
    assert Outbox.objects.get(template_key="followups.birthday").recipient == plain.phone


def test_greetings_wait_out_the_quiet_hours(branch, clock):
    make_member(branch, name="夜猫子", birth_date=dt.date(1990, 12, 7))
    clock.go(dt.date(2026, 12, 7), 6)
    birthdays_greet()
    assert Outbox.objects.get().not_before == local(dt.date(2026, 12, 7), 8)


def test_anniversaries_of_the_first_visit_and_of_enrolment(branch, clock, cleaning, visit_on):
    person = make_member(branch, name="老顾客")
    visit_on(person, cleaning, dt.date(2024, 12, 7))
    visit_on(person, cleaning, dt.date(2025, 6, 1))
    membership_enrol(actor=None, member=person, branch=branch, welcome_points=0)
    Membership.objects.filter(member=person).update(enrolled_at=local(dt.date(2025, 12, 7), 15))
    clock.go(dt.date(2026, 12, 7), 10)
    assert anniversaries_greet() == 2
    assert anniversaries_greet() == 0
    visit = Outbox.objects.get(template_key="followups.anniversary_visit")
    enrol = Outbox.objects.get(template_key="followups.anniversary_enrol")
    assert (visit.params["years"], enrol.params["years"]) == (2, 1)


def test_the_daily_care_job_runs_all_three(branch, clock):
    make_member(branch, name="寿星", birth_date=dt.date(1990, 10, 1))
    clock.go(dt.date(2026, 10, 1), 10)
    assert care_run() == {"birthdays": 1, "holidays": 1, "anniversaries": 0}
