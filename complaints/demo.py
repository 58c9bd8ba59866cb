"""Demo complaints for ``seed_demo``: open complaints in every state at 静安店, one overdue
and escalated to the branch manager, one medical dispute waiting for the doctor's review, one
waiting on the customer, one closed with its review. Idempotent (source keys ``demo:…``)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.workdays import working_days_after

from . import services
from .models import Complaint

User = get_user_model()

# key, working days ago received, target state, channel, severity, category, subject, text, expectation
DEMO = [
    (
        "overdue",
        3,
        "received",
        "phone",
        "normal",
        "waiting",
        "候诊一小时无人解释",
        "预约上午10点，11点才叫号，前台没有任何解释。",
        "道歉，以后准时",
    ),
    (
        "ack",
        0,
        "acknowledged",
        "wechat",
        "normal",
        "attitude",
        "前台态度冷淡",
        "询问费用时前台不耐烦。",
        "前台道歉",
    ),
    (
        "investigating",
        1,
        "investigating",
        "review_site",
        "serious",
        "billing",
        "大众点评差评：收费与报价不符",
        "洁牙报价198元，结账收了298元。",
        "退还差价",
    ),
    (
        "paused",
        1,
        "investigating",
        "email",
        "normal",
        "hygiene",
        "诊室地面有污渍",
        "候诊区卫生间地面湿滑，有污渍。",
        "改进卫生",
    ),
    (
        "proposed",
        2,
        "proposed",
        "in_person",
        "normal",
        "outcome",
        "补牙后仍冷热敏感",
        "两周前补牙，现在喝冷水仍酸痛。",
        "免费复查",
    ),
    (
        "accepted",
        2,
        "accepted",
        "phone",
        "normal",
        "waiting",
        "复诊改期没有通知",
        "复诊时间被改，没有收到短信。",
        "补偿",
    ),
    (
        "resolved",
        3,
        "resolved",
        "wechat",
        "normal",
        "privacy",
        "病历信息被大声念出",
        "前台当众大声说出我的病情。",
        "道歉并注意隐私",
    ),
    ("closed", 4, "closed", "phone", "normal", "attitude", "护士操作粗鲁", "洗牙时护士动作很重。", "道歉"),
    (
        "medical",
        1,
        "investigating",
        "in_person",
        "medical",
        "outcome",
        "根管治疗后牙齿劈裂",
        "根管治疗一个月后牙齿劈裂，需要拔除，怀疑治疗不当。",
        "赔偿并免费种植",
    ),
]


def _received_at(days_ago: int) -> dt.datetime:
    now = timezone.localtime()
    day = now.date()
    # Go back ``days_ago`` working days (the demo's clocks then read as a real queue would).
    back = day
    while days_ago and working_days_after(back, days_ago) > day:
        back -= dt.timedelta(days=1)
    return now.replace(
        year=back.year, month=back.month, day=back.day, hour=10, minute=0, second=0, microsecond=0
    )


def seed_complaints(*, branches) -> int:
    branch = branches["JA"]
    service = User.objects.filter(username="service").first()
    doctor = User.objects.filter(username="doctor").first()
    nurse = User.objects.filter(username="nurse").first()
    if service is None:
        return 0
    from members.models import Member

    people = list(Member.objects.filter(branch=branch, merged_into__isnull=True).order_by("pk")[:12])
    made = 0
    for i, (key, days_ago, state, channel, severity, category, subject, text, expect) in enumerate(DEMO):
        source_key = f"demo:{key}"
        if Complaint.objects.filter(source_key=source_key).exists():
            continue
        member = people[i % len(people)] if people and key != "ack" else None
        c = services.complaint_receive(
            actor=service,
            branch=branch,
            channel=channel,
            received_at=min(_received_at(days_ago), timezone.now()),
            member=member,
            contact_name="" if member else "匿名顾客",
            contact_phone="" if member else "13800001111",
            subject=subject,
            description=text,
            expectation=expect,
            severity=severity,
            category=category,
            staff=nurse if key == "closed" else doctor if key == "medical" else None,
            source_key=source_key,
        )
        made += 1
        order = ["received", "acknowledged", "investigating", "proposed", "accepted", "resolved", "closed"]
        steps = {
            "acknowledged": lambda c: services.complaint_acknowledge(
                actor=service, complaint=c, note="已电话联系客户致歉"
            ),
            "investigating": lambda c: services.complaint_investigate(actor=service, complaint=c),
            "proposed": lambda c: services.complaint_propose(
                actor=service, complaint=c, resolution="免费复查并赠送洁牙券"
            ),
            "accepted": lambda c: services.complaint_accept(actor=service, complaint=c, note="客户接受"),
            "resolved": lambda c: services.complaint_resolve(actor=service, complaint=c),
            "closed": lambda c: services.complaint_close(
                actor=service,
                complaint=c,
                satisfaction=4,
                root_cause="attitude",
                corrective_action="护士操作培训，洁牙前告知可能的不适",
                lessons="操作前先沟通",
            ),
        }
        for name in order[1 : order.index(state) + 1]:
            c = steps[name](c)
        if key == "investigating":
            services.complaint_note_add(
                actor=service, complaint=c, text="已调取收费记录：结账时加收了抛光费100元。"
            )
        if key == "paused":
            services.complaint_pause(actor=service, complaint=c, reason="等客户发来现场照片")
        if key == "medical" and doctor is not None:
            reviewer = User.objects.filter(username="hqadmin").first()
            if reviewer is not None:
                services.complaint_request_review(actor=service, complaint=c, reviewer=reviewer)
    services.complaints_escalate_overdue()
    return made
