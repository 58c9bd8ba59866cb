"""Demo campaigns, called by ``seed_demo`` after the partners' demo: a member day held ten
days ago with sign-ups, check-ins, rewards, a lucky draw and no-show follow-up tasks (so its
results show), and a health talk in five days with sign-ups past its capacity (so the
waiting list shows).

Idempotent: campaigns are found by name. The past one is made through the services while
it is still ahead, then its times are set back to the day it stands for (demo data only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from clinic.models import Branch
from members.models import Member

from . import campaigns
from .models import Campaign, CampaignDraw, CampaignKind, CampaignSignup

User = get_user_model()
PAST = "[demo] 12 月会员日"
UPCOMING = "[demo] 儿童护牙健康讲座"
MEMBER_DAY = "[demo] 本周会员日·洁牙特惠"


@transaction.atomic
def seed_campaigns(*, branches: dict[str, Branch]) -> int:
    """Returns the number of campaigns created."""
    marketer = User.objects.filter(username="marketing").first()
    front = User.objects.filter(username="frontdesk").first() or marketer
    branch = branches.get("JA")
    if marketer is None or branch is None:
        return 0
    people = list(Member.objects.filter(branch=branch).exclude(phone="").order_by("id")[:12])
    if len(people) < 10:
        return 0
    made = 0
    now = timezone.now()
    if not Campaign.objects.filter(name=PAST).exists():
        start = now + dt.timedelta(hours=1)
        past = campaigns.campaign_create(
            actor=marketer,
            branch=branch,
            name=PAST,
            kind=CampaignKind.MEMBER_DAY,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=4),
            capacity=30,
            channels="微信公众号、短信",
            budget=Decimal("2000.00"),
            reward_points=200,
            notes="会员日到店签到送积分，现场抽奖。",
        )
        for person in people[:8]:
            campaigns.signup_create(actor=marketer, campaign=past, member=person)
        for person in people[:6]:
            signup = campaigns.checkin(actor=front, campaign=past, member=person)
            campaigns.attendance_reward(actor=marketer, signup=signup)
        campaigns.draw_create(actor=marketer, campaign=past, prize="电动牙刷", count=2)
        # Ten days ago, 09:00–13:00: people checked in from a quarter past nine, the draw at noon.
        held = timezone.localtime(now - dt.timedelta(days=10)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        shift = past.starts_at - held
        door = now - (held + dt.timedelta(minutes=15))
        Campaign.objects.filter(pk=past.pk).update(
            starts_at=past.starts_at - shift,
            ends_at=past.ends_at - shift,
            created_at=past.created_at - dt.timedelta(days=25),
        )
        CampaignDraw.objects.filter(campaign=past).update(drawn_at=held + dt.timedelta(hours=3))
        for signup in CampaignSignup.objects.filter(campaign=past):
            CampaignSignup.objects.filter(pk=signup.pk).update(
                signed_up_at=signup.signed_up_at - dt.timedelta(days=15),
                checked_in_at=signup.checked_in_at - door if signup.checked_in_at else None,
            )
        past.refresh_from_db()
        campaigns.no_show_followups(actor=None, campaign=past)
        made += 1
    if not Campaign.objects.filter(name=UPCOMING).exists():
        start = (now + dt.timedelta(days=5)).replace(
            hour=6, minute=0, second=0, microsecond=0
        )  # 14:00 Shanghai
        upcoming = campaigns.campaign_create(
            actor=marketer,
            branch=branch,
            name=UPCOMING,
            kind=CampaignKind.FAMILY,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
            capacity=3,
            channels="幼儿园家长群",
            budget=Decimal("800.00"),
            notes="亲子口腔讲座，名额 3 组家庭，满员后候补。",
        )
        for person in people[7:12]:
            campaigns.signup_create(actor=marketer, campaign=upcoming, member=person)
        made += 1
    if not Campaign.objects.filter(name=MEMBER_DAY).exists():
        # Running this week: today's checkouts at 静安 show the member-day prices.
        today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        member_day = campaigns.campaign_create(
            actor=marketer,
            branch=branch,
            name=MEMBER_DAY,
            kind=CampaignKind.MEMBER_DAY,
            starts_at=today - dt.timedelta(days=1),
            ends_at=today + dt.timedelta(days=3),
            channels="微信公众号、门店海报",
            budget=Decimal("1500.00"),
            notes="会员日：超声洁牙会员特价 ¥198（不再叠加会员折扣），涂氟八折可叠加。",
        )
        from clinic.models import ServiceItem

        from .campaign_prices import campaign_price_set

        items = {i.code: i for i in ServiceItem.objects.filter(code__in=["PV01", "PV03"])}
        if "PV01" in items:
            campaign_price_set(actor=marketer, campaign=member_day, item=items["PV01"], price=Decimal("198"))
        if "PV03" in items:
            campaign_price_set(
                actor=marketer,
                campaign=member_day,
                item=items["PV03"],
                percent_off=Decimal("20"),
                with_tier=True,
            )
        made += 1
    return made
