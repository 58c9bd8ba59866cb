"""Demo referral partners, called by ``seed_demo`` after appointments' demo: partners of every
kind with contacts and terms, people they sent, paid visits last month and this month with
their rebates, last month's statements settled by the manager, and a visit voided after its
month was settled, whose reversal sits on this month's statement.

Idempotent: partners are found by name, people by phone; a person's visits are made only when
the person is new. Demo visits go through the booking and checkout services; their times are
then set back to the day they stand for (demo data only), and the rebates are accrued for
that day (``rebates_accrue`` is idempotent, so the signal that follows the commit adds
nothing)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from appointments import checkout, schedule, services
from appointments.models import Appointment, Payment, Reminder, ReminderStatus, Visit
from clinic.models import Branch, ServiceCategory, ServiceItem
from members.models import AcquisitionChannel, Member, Stage
from members.services import member_register

from . import partners, rebates
from .models import Attribution, Partner, Statement, TouchSource

User = get_user_model()
DEMO = "[demo] 转诊"

# branch, name, kind, phone, address, contacts (name, title, phone), terms (kind, category, value)
PARTNERS = [
    (
        "JA",
        "阳光实验小学",
        "school",
        "021-62881101",
        "上海市静安区康定路 100 号",
        [("孙老师", "校医", "13801001001")],
        [("percent", None, "10")],
    ),
    (
        "JA",
        "康泰大药房（南京西路店）",
        "pharmacy",
        "021-62881102",
        "上海市静安区南京西路 1500 号",
        [("钱店长", "店长", "13801001002")],
        [("fixed", None, "200")],
    ),
    (
        "JA",
        "仁爱口腔诊所",
        "clinic",
        "021-62881103",
        "上海市静安区武定路 88 号",
        [("李主任", "主任", "13801001003"), ("小郑", "前台", "13801001013")],
        [("percent", None, "5"), ("percent", "IMPL", "15")],
    ),
    (
        "JA",
        "华信科技有限公司",
        "company",
        "021-62881104",
        "上海市静安区江场路 1313 号",
        [("周经理", "人事经理", "13801001004")],
        [("percent", "PREV", "8")],
    ),
    (
        "PD",
        "浦东仁济门诊 王医生",
        "doctor",
        "021-58761105",
        "上海市浦东新区东方路 1630 号",
        [("王医生", "主治医师", "13801001005")],
        [("fixed", None, "300"), ("percent", "ORTH", "5")],
    ),
]

# partner, person, phone, visits: (0 = this month / 1 = last month, day of that month, items); void
PEOPLE = [
    ("阳光实验小学", "陈小雨", "13700101001", [(1, 6, ["PV01", "PV03"]), (0, None, ["EX01"])], False),
    ("阳光实验小学", "许嘉怡", "13700101002", [(1, 9, ["PE01"])], False),
    ("康泰大药房（南京西路店）", "黄建国", "13700101003", [(1, 12, ["EN01"]), (0, None, ["PV01"])], False),
    ("仁爱口腔诊所", "林美华", "13700101004", [(1, 15, ["IM01", "EX03"])], False),
    ("仁爱口腔诊所", "吴志明", "13700101005", [(1, 18, ["PV01"])], True),
    ("华信科技有限公司", "郑晓东", "13700101006", [(0, None, ["PV01", "PV02"])], False),
    ("华信科技有限公司", "冯丽", "13700101007", [], False),  # sent, not yet come
    ("浦东仁济门诊 王医生", "周婷", "13700101008", [(1, 10, ["OR03"])], False),
]
DOCTORS = {"JA": "doctor_li", "PD": "doctor_zhang"}
DESKS = {"JA": "frontdesk", "PD": "frontdesk_pd"}
SETTLED = {"阳光实验小学", "康泰大药房（南京西路店）", "仁爱口腔诊所"}


def _user(username: str):
    return User.objects.filter(username=username).first()


@transaction.atomic
def seed_partners(*, branches: dict[str, Branch]) -> int:
    """Returns the number of rebate rows created."""
    marketer, manager, hq = _user("marketing"), _user("manager"), _user("hqadmin")
    if marketer is None or hq is None:
        return 0
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    by_name: dict[str, Partner] = {}
    for code, name, kind, phone, address, contacts, terms in PARTNERS:
        branch = branches[code]
        partner = Partner.objects.filter(branch=branch, name=name).first()
        if partner is None:
            partner = partners.partner_create(
                actor=hq,
                branch=branch,
                name=name,
                kind=kind,
                phone=phone,
                address=address,
                account_manager=marketer,
            )
            for cname, title, cphone in contacts:
                partners.partner_contact_add(actor=hq, partner=partner, name=cname, title=title, phone=cphone)
            for tkind, category, value in terms:
                partners.rebate_term_add(
                    actor=hq,
                    partner=partner,
                    kind=tkind,
                    category=ServiceCategory.objects.filter(code=category).first() if category else None,
                    percent=Decimal(value) if tkind == "percent" else None,
                    amount=Decimal(value) if tkind == "fixed" else None,
                    valid_from=last_month.replace(month=1) if last_month.month > 1 else last_month,
                    notes="2026 年度合作协议",
                )
        by_name[name] = partner
    items = {i.code: i for i in ServiceItem.objects.filter(is_active=True)}
    channel = AcquisitionChannel.objects.filter(code="partner").first()
    made = 0
    to_void: list[Visit] = []
    for pname, person, phone, visits, void in PEOPLE:
        partner = by_name[pname]
        code = partner.branch.code
        if Member.objects.filter(phone__endswith=phone).exists():
            continue
        member = member_register(
            actor=_user(DESKS[code]),
            branch=partner.branch,
            name=person,
            phone=phone,
            stage=Stage.LEAD,
            channel=channel,
            allow_duplicate=True,
        )
        Attribution.objects.get_or_create(
            member=member,
            defaults={"partner": partner, "channel": channel, "source": TouchSource.REGISTRATION},
        )
        for months_ago, day, codes in visits:
            if months_ago:
                when = last_month.replace(day=day)
            else:
                when = today - dt.timedelta(days=1) if today.day > 1 else today
            visit = _paid_visit(partner.branch, member, [items[c] for c in codes if c in items], when)
            if visit is None:
                continue
            made += len(rebates.rebates_accrue(visit=visit))
            if void:
                to_void.append(visit)
    if made:
        for statement in Statement.objects.filter(
            month=last_month, partner__name__in=SETTLED, status="open"
        ).select_related("partner"):
            rebates.statement_settle(
                actor=manager or hq,
                statement=statement,
                paid_amount=statement.total,
                reference=f"转账 {this_month:%Y%m}05-{statement.partner_id:03d}",
                note="月初对公转账",
            )
    for visit in to_void:
        checkout.visit_void(actor=manager or hq, visit=visit, reason="重复收费，已退回客户")
        made += len(rebates.rebates_reverse(visit=visit))
    return made


def _paid_visit(branch: Branch, member: Member, items: list[ServiceItem], day: dt.date) -> Visit | None:
    """Book, arrive, treat and check out on ``day`` (the first free hour), then date the visit
    back to that day."""
    doctor, desk = _user(DOCTORS[branch.code]), _user(DESKS[branch.code])
    if doctor is None or not items:
        return None
    appt = None
    for hour in (9, 10, 13, 14, 15, 16, 11):
        start = schedule.local_dt(day, dt.time(hour))
        try:
            appt = services.appointment_book(
                actor=desk,
                branch=branch,
                member=member,
                service=items[0],
                doctor=doctor,
                start=start,
                channel="phone",
                notes=DEMO,
                now=start - dt.timedelta(days=1),
            )
            break
        except services.AppointmentError:
            continue
    if appt is None:
        return None
    Reminder.objects.filter(appointment=appt, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.CANCELLED, note="demo"
    )
    services.appointment_check_in(actor=desk, appointment=appt, now=start)
    appt = services.appointment_start_treatment(actor=desk, appointment=appt)
    for item in items:
        checkout.charge_line_add(
            actor=desk, visit=appt.visit, item=item, teeth=[36] if item.per_tooth else []
        )
    _lines, result = checkout.quote(visit=appt.visit)
    visit = checkout.visit_checkout(
        actor=desk,
        visit=appt.visit,
        payments=[("wechat_pay", result.amount_due)] if result.amount_due > 0 else [],
        checkout_key=f"demo-partner-{appt.pk}",
    )
    done = min(start + dt.timedelta(minutes=40), timezone.now())
    Visit.objects.filter(pk=visit.pk).update(opened_at=start, checked_out_at=done)
    Payment.objects.filter(visit=visit).update(at=done)
    Appointment.objects.filter(pk=appt.pk).update(treatment_started_at=start, completed_at=done)
    visit.refresh_from_db()
    return visit
