"""The member portal's demo, for ``seed_demo``: 张伟 (13812345678) and his son 张小宝 share a
phone, so one SMS log-in reaches both. Adds what the portal shows that the other demos may not
have: points about to expire, coupons to show at the desk, a booking in the coming days and the
upcoming family event. Idempotent: every row is found by its demo key first."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from clinic.errors import DomainError
from clinic.models import Branch
from members.models import Member

DEMO_PHONE = "+8613812345678"
DEMO_NAME = "张伟"
DEMO_CHILD = "张小宝"
DEMO = "[demo]"


def _expiring_earned_on(today: dt.date) -> dt.date:
    """An earning day whose points expire 1–30 days from today under the current policy."""
    from loyalty.services.ledger import expiry_date, policy

    rules = policy()
    for back in range(0, 4 * 366):
        day = today - dt.timedelta(days=back)
        until = expiry_date(day, rules)
        if today + dt.timedelta(days=7) <= until <= today + dt.timedelta(days=30):
            return day
    return today


@transaction.atomic
def seed_portal(*, branches: dict[str, Branch]) -> int:
    from loyalty import coupons
    from loyalty.coupon_models import CouponTemplate
    from loyalty.selectors import membership_for
    from loyalty.services import points_earn

    parent = Member.objects.filter(name=DEMO_NAME, phone=DEMO_PHONE).first()
    if parent is None or membership_for(parent) is None:
        return 0
    made = 0
    today = timezone.localdate()
    earned_on = _expiring_earned_on(today)
    earned_at = timezone.make_aware(dt.datetime.combine(earned_on, dt.time(12)))
    entry = points_earn(
        actor=None,
        member=parent,
        points=380,
        idempotency_key="demo:portal:expiring",
        reason="演示：即将到期的积分",
        earned_at=earned_at,
    )
    made += int(getattr(entry, "was_created", True))
    for n, template in enumerate(CouponTemplate.objects.filter(is_active=True).order_by("pk")[:2]):
        try:
            coupons.coupon_issue(
                actor=None,
                template=template,
                member=parent,
                reason="演示：会员手机端",
                issue_key=f"demo:portal:coupon:{n}",
                system=True,
            )
        except DomainError:  # already holds the template's limit: the demo has coupons then
            continue
    made += _book(parent)
    made += _event(parent)
    made += _privacy_request()
    return made


def _privacy_request() -> int:
    """王芳 asked on her phone for her data to be deleted: the staff queue has one open
    request with its 15-working-day deadline."""
    from members.actors import member_actor
    from members.models import PrivacyRequest
    from members.privacy import privacy_erasure_request

    person = Member.objects.filter(name="王芳", phone="+8613912348765").first()
    if person is None or PrivacyRequest.objects.filter(member=person).exists():
        return 0
    privacy_erasure_request(
        actor=member_actor(person), member=person, reason="已搬离本市，不再需要会员服务。"
    )
    return 1


def _book(member: Member) -> int:
    """A cleaning in the coming days at the member's branch (the first free half hour)."""
    from appointments import schedule, services
    from appointments.models import Appointment
    from clinic.models import ServiceItem

    if Appointment.objects.filter(member=member, notes__startswith=f"{DEMO} portal").exists():
        return 0
    item = (
        ServiceItem.objects.filter(is_active=True, code="PV01").first()
        or ServiceItem.objects.filter(is_active=True).first()
    )
    front = get_user_model().objects.filter(username="frontdesk").first()
    if item is None:
        return 0
    today = timezone.localdate()
    for days in range(2, 10):
        day = today + dt.timedelta(days=days)
        shifts = schedule.shifts_for_day(member.branch, day)
        for doctor_id, intervals in shifts.items():
            doctor = get_user_model().objects.get(pk=doctor_id)
            for start, end in intervals:
                at = start + dt.timedelta(hours=1)
                while at + dt.timedelta(minutes=item.duration_minutes or 30) <= end:
                    try:
                        services.appointment_book(
                            actor=front,
                            branch=member.branch,
                            member=member,
                            service=item,
                            doctor=doctor,
                            start=at,
                            channel="wechat",
                            notes=f"{DEMO} portal 会员手机端演示预约",
                        )
                        return 1
                    except services.AppointmentError:
                        at += dt.timedelta(minutes=30)
    return 0


def _event(member: Member) -> int:
    """The child signed up for the upcoming family talk (the parent sees it on the phone)."""
    from marketing import campaigns
    from marketing.campaign_demo import UPCOMING
    from marketing.models import Campaign, CampaignSignup

    child = Member.objects.filter(name=DEMO_CHILD, phone=member.phone).first() or member
    campaign = Campaign.objects.filter(name=UPCOMING, branch=member.branch).first()
    if campaign is None or CampaignSignup.objects.filter(campaign=campaign, member=child).exists():
        return 0
    marketer = get_user_model().objects.filter(username="marketing").first()
    try:
        campaigns.signup_create(actor=marketer, campaign=campaign, member=child)
    except DomainError:  # an event that cannot take them is no reason to stop the demo
        return 0
    return 1
