"""Demo people for ``manage.py seed_demo``: leads, patients and members at both branches,
children with guardians, consents, medical alerts and a communication log. Idempotent: a
person already there (same name and phone) is left as is."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.models import Branch

from . import services
from .models import AcquisitionChannel, ConsentKind, Member, Relation, Stage, Tag

TAGS = [
    ("VIP", "warning"),
    ("种植意向", "primary"),
    ("正畸意向", "info"),
    ("价格敏感", "secondary"),
    ("投诉过", "danger"),
]

# name, phone, gender, birth, branch, stage, channel, tags, card, allergies, conditions, notes
# The general notes hold only what marketing and the front desk may read (interests, how
# they found the clinic); health facts go to the medical fields (DENTAL_HISTORY below).
PEOPLE = [
    (
        "张伟",
        "13812345678",
        "M",
        "1982-03-14",
        "JA",
        "member",
        "朋友介绍",
        ["VIP"],
        "JA0001015",
        "青霉素",
        "hypertension",
        "",
    ),
    ("王芳", "13912348765", "F", "1990-07-02", "JA", "member", "大众点评", [], "JA0001023", "", "", ""),
    (
        "李娜",
        "13698761234",
        "F",
        "1995-11-20",
        "JA",
        "patient",
        "小红书",
        ["正畸意向"],
        None,
        "",
        "",
        "咨询隐形矫正",
    ),
    ("刘洋", "13501234567", "M", "1988-01-09", "JA", "patient", "美团", ["价格敏感"], None, "", "", ""),
    (
        "陈静",
        "13755556666",
        "F",
        "1979-05-30",
        "JA",
        "member",
        "企业团检",
        [],
        "JA0001031",
        "磺胺类",
        "diabetes",
        "",
    ),
    (
        "杨磊",
        "18612340001",
        "M",
        "1992-09-12",
        "JA",
        "lead",
        "抖音",
        ["种植意向"],
        None,
        "",
        "",
        "抖音私信咨询种植价格",
    ),
    ("赵敏", "18612340002", "F", "1986-12-01", "JA", "lead", "百度", [], None, "", "", ""),
    (
        "黄丽华",
        "13311112222",
        "F",
        "1965-04-18",
        "JA",
        "member",
        "路过",
        ["VIP"],
        "JA0001049",
        "",
        "anticoagulants,heart",
        "",
    ),
    ("周杰", "13322223333", "M", "1999-02-28", "JA", "patient", "地推", [], None, "", "", ""),
    ("吴倩", "15900001111", "F", "1993-06-06", "JA", "patient", "朋友介绍", [], None, "利多卡因", "", ""),
    ("曾志伟", "15900002222", "M", "1975-10-10", "JA", "member", "大众点评", [], "JA0001056", "", "", ""),
    ("单田芳", "15900003333", "M", "1958-08-08", "JA", "patient", "路过", [], None, "", "hypertension", ""),
    ("解晓东", "15900004444", "M", "1984-01-21", "JA", "lead", "美团", [], None, "", "", ""),
    ("区伟文", "15900005555", "M", "1990-03-03", "JA", "patient", "百度", [], None, "", "", ""),
    ("仇英", "15900006666", "F", "1997-07-17", "JA", "lead", "小红书", ["正畸意向"], None, "", "", ""),
    ("朴志勋", "15900007777", "M", "1987-12-12", "JA", "patient", "企业团检", [], None, "", "", ""),
    ("查良", "15900008888", "M", "1970-02-02", "JA", "member", "朋友介绍", [], "JA0001064", "", "", ""),
    (
        "孙丽",
        "13811112222",
        "F",
        "1985-09-09",
        "JA",
        "member",
        "大众点评",
        [],
        "JA0001072",
        "",
        "pregnancy",
        "",
    ),
    ("马超", "13822223333", "M", "1991-04-04", "JA", "patient", "抖音", ["投诉过"], None, "", "", ""),
    ("朱琳", "13833334444", "F", "1994-10-24", "JA", "lead", "地推", [], None, "", "", ""),
    ("胡军", "13844445555", "M", "1980-11-11", "JA", "patient", "路过", [], None, "", "", ""),
    ("郭晓燕", "13855556666", "F", "1996-01-01", "JA", "patient", "美团", [], None, "", "", ""),
    ("林佳怡", "13866667777", "F", "2001-05-05", "JA", "lead", "小红书", ["正畸意向"], None, "", "", ""),
    (
        "何建国",
        "13877778888",
        "M",
        "1960-06-01",
        "JA",
        "member",
        "朋友介绍",
        ["VIP"],
        "JA0001080",
        "",
        "diabetes,hypertension",
        "",
    ),
    ("高雅婷", "18700001111", "F", "1998-08-18", "PD", "patient", "大众点评", [], None, "", "", ""),
    ("罗浩", "18700002222", "M", "1989-09-19", "PD", "member", "美团", [], "PD0002014", "阿司匹林", "", ""),
    (
        "郑秀英",
        "18700003333",
        "F",
        "1955-03-13",
        "PD",
        "member",
        "企业团检",
        [],
        "PD0002022",
        "",
        "heart",
        "",
    ),
    ("梁博文", "18700004444", "M", "1993-12-03", "PD", "lead", "抖音", ["种植意向"], None, "", "", ""),
    ("谢雨萱", "18700005555", "F", "2000-02-20", "PD", "patient", "小红书", [], None, "", "", ""),
    ("宋子涵", "18700006666", "M", "1997-11-07", "PD", "lead", "百度", [], None, "", "", ""),
    ("唐诗涵", "18700007777", "F", "1991-07-27", "PD", "patient", "地推", ["价格敏感"], None, "", "", ""),
    ("盖聂", "18700008888", "M", "1983-04-14", "PD", "patient", "路过", [], None, "", "", ""),
    ("覃海", "18700009999", "M", "1978-08-28", "PD", "member", "朋友介绍", [], "PD0002030", "", "", ""),
    ("尉迟恭", "18711110000", "M", "1972-01-15", "PD", "patient", "大众点评", [], None, "", "", ""),
    (
        "欧阳娜娜",
        "18722220000",
        "F",
        "2000-06-15",
        "PD",
        "member",
        "小红书",
        ["VIP"],
        "PD0002048",
        "",
        "",
        "",
    ),
]

# Dental history (a medical field: only roles with clinic.view_medical see it).
DENTAL_HISTORY = {
    "张伟": "种植 36 术后",
    "黄丽华": "服用华法林，拔牙前需停药评估",
    "孙丽": "孕 20 周，避免 X 光",
    "何建国": "全口种植",
    "郑秀英": "心脏支架术后",
}
# Children: (name, birth, branch, parent name, relation of parent to child)
CHILDREN = [
    ("张小宝", 7, "JA", "张伟", Relation.PARENT),
    ("陈乐乐", 10, "JA", "陈静", Relation.PARENT),
    ("何思远", 12, "JA", "何建国", Relation.GRANDPARENT),
    ("罗一诺", 5, "PD", "罗浩", Relation.PARENT),
    ("孙梓轩", 15, "JA", "孙丽", Relation.PARENT),
]
COMMS = [
    ("张伟", "phone", "out", "术后第 7 天回访：无不适，约 3 个月后复查"),
    ("李娜", "wechat", "in", "询问隐形矫正价格与疗程，已发送方案介绍"),
    ("杨磊", "online", "in", "抖音私信：咨询单颗种植价格，留电话"),
    ("杨磊", "phone", "out", "电话回访，约周六到店面诊"),
    ("马超", "in_person", "in", "对候诊时间不满，已道歉并赠送洁牙券"),
    ("黄丽华", "phone", "out", "提醒拔牙前一周咨询心内科停药"),
    ("梁博文", "online", "in", "咨询种植分期付款"),
    ("罗浩", "sms", "out", "洁牙复诊提醒已发送"),
]


def _actor(username: str):
    return get_user_model().objects.filter(username=username).first()


def seed_members(*, branches: dict[str, Branch]) -> int:
    """Create what is missing; returns the number of people created."""
    front = {"JA": _actor("frontdesk"), "PD": _actor("frontdesk_pd")}
    doctor = _actor("doctor")
    for name, color in TAGS:
        Tag.objects.get_or_create(name=name, defaults={"color": color})
    tags = {t.name: t for t in Tag.objects.all()}
    channels = {c.name: c for c in AcquisitionChannel.objects.all()}
    created = 0
    people: dict[str, Member] = {}
    now = timezone.now()
    for i, (
        name,
        phone,
        gender,
        birth,
        code,
        stage,
        channel,
        tag_names,
        card,
        allergies,
        conds,
        notes,
    ) in enumerate(PEOPLE):
        member = Member.objects.filter(name=name, phone=f"+86{phone}").first()
        if member is None:
            actor = front.get(code)
            member = services.member_register(
                actor=actor,
                branch=branches[code],
                name=name,
                phone=phone,
                gender=gender,
                birth_date=dt.date.fromisoformat(birth),
                stage=Stage.LEAD if stage == "lead" else Stage.PATIENT,
                channel=channels.get(channel),
                tags=[tags[t] for t in tag_names],
                notes=notes,
                allow_duplicate=True,
            )
            if stage == "member":
                services.member_stage_advance(actor=actor, member=member, stage=Stage.MEMBER, card_no=card)
            history = DENTAL_HISTORY.get(name, "")
            if allergies or conds or history:
                services.member_medical_update(
                    actor=doctor,
                    member=member,
                    allergies=allergies,
                    conditions=conds.split(",") if conds else [],
                    dental_history=history,
                )
            if stage != "lead":
                Member.objects.filter(pk=member.pk).update(last_visit_at=now - dt.timedelta(days=7 * (i + 1)))
            if i % 3 != 2:
                services.consent_grant(
                    actor=actor, member=member, kind=ConsentKind.MARKETING_SMS, channel="paper"
                )
            if i % 4 == 0:
                services.consent_grant(
                    actor=actor, member=member, kind=ConsentKind.MARKETING_WECHAT, channel="wechat"
                )
            created += 1
        people[name] = member
    today = timezone.localdate()
    for name, age, code, parent_name, relation in CHILDREN:
        parent = people[parent_name]
        child = Member.objects.filter(name=name, phone=parent.phone).first()
        if child is None:
            actor = front.get(code)
            child = services.member_register(
                actor=actor,
                branch=branches[code],
                name=name,
                phone=parent.phone[3:],
                birth_date=today.replace(year=today.year - age, day=min(today.day, 28)),
                stage=Stage.PATIENT,
                channel=parent.channel,
                allow_duplicate=True,
            )
            services.family_link_add(
                actor=actor, member=child, relative=parent, relation=relation, is_guardian=True
            )
            if child.needs_guardian_consent:
                services.consent_grant(
                    actor=actor, member=child, kind=ConsentKind.GUARDIAN, channel="paper", guardian=parent
                )
            created += 1
    for name, channel, direction, summary in COMMS:
        member = people[name]
        if not member.communications.filter(summary=summary).exists():
            services.communication_log_add(
                actor=front.get(member.branch.code),
                member=member,
                channel=channel,
                direction=direction,
                summary=summary,
            )
    return created
