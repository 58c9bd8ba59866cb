"""Demo follow-up plans (the issue's rules on the demo catalogue), dedicated reps for the
tiers that have one, and past visits whose follow-ups are due today or overdue, for
``seed_demo``. Idempotent: plans by name, visits by their demo note, tasks by source key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from clinic.models import Branch, Role, ServiceCategory, ServiceItem

from .models import AttemptOutcome, Task, TaskStatus
from .plan_models import AssigneeRule, FollowupPlan, FollowupStep, ServiceRep

User = get_user_model()
DEMO_NOTE = "[demo-followups]"

_CALL = "phone"
# name, item code, category code, care instructions, steps:
#   (title, offset, unit, times, every n months, channel, script, assignee rule)
DEFAULT_PLANS = [
    (
        "拔牙术后回访",
        None,
        "SURG",
        "拔牙后咬紧棉球30–40分钟；24小时内不要漱口、刷牙时避开伤口；2小时后可进温凉软食，勿用患侧咀嚼；"
        "术后一周内忌烟酒、辛辣和剧烈运动；如出血不止、肿痛加重或发热请及时复诊。",
        [
            (
                "拔牙术后第1天回访",
                1,
                "days",
                1,
                1,
                _CALL,
                "1. 伤口还出血吗？疼痛程度（0–10分）？\n2. 有没有按医嘱服药、冷敷？\n3. 提醒：一周后复诊拆线（如有缝线）。",
                AssigneeRule.REP_OR_POOL,
            )
        ],
    ),
    (
        "种植术后回访",
        None,
        "IMPL",
        "术后24小时内冷敷、勿漱口；按时服用抗生素；一周内进软食，勿用种植侧咀嚼；保持口腔清洁，"
        "戒烟戒酒；7–10天复诊拆线，3–6个月后复查骨结合情况。",
        [
            (
                "种植术后第1天回访",
                1,
                "days",
                1,
                1,
                _CALL,
                "1. 肿胀、出血、疼痛情况？\n2. 是否按时服药、冷敷？",
                AssigneeRule.REP_OR_POOL,
            ),
            (
                "种植术后第7天回访",
                7,
                "days",
                1,
                1,
                _CALL,
                "1. 伤口愈合情况？\n2. 提醒预约拆线。",
                AssigneeRule.REP_OR_POOL,
            ),
            (
                "种植术后第30天回访",
                30,
                "days",
                1,
                1,
                _CALL,
                "1. 有无松动、不适？\n2. 咀嚼情况？",
                AssigneeRule.REP_OR_POOL,
            ),
            (
                "种植术后6个月回访",
                6,
                "months",
                1,
                1,
                _CALL,
                "1. 邀约复查、拍片评估骨结合。\n2. 满意度。",
                AssigneeRule.REP_OR_POOL,
            ),
        ],
    ),
    (
        "根管治疗回访（前牙）",
        "EN02",
        None,
        "根管治疗期间勿用患牙咬硬物；治疗后可能有轻微胀痛，一般2–3天缓解；按约完成后续治疗并尽早做牙冠保护。",
        [
            (
                "根管治疗第3天回访",
                3,
                "days",
                1,
                1,
                _CALL,
                "1. 患牙还痛吗？\n2. 提醒按时复诊完成治疗。",
                AssigneeRule.REP_OR_POOL,
            )
        ],
    ),
    (
        "根管治疗回访（磨牙）",
        "EN03",
        None,
        "根管治疗期间勿用患牙咬硬物；治疗后可能有轻微胀痛，一般2–3天缓解；按约完成后续治疗并尽早做牙冠保护。",
        [
            (
                "根管治疗第3天回访",
                3,
                "days",
                1,
                1,
                _CALL,
                "1. 患牙还痛吗？\n2. 提醒按时复诊完成治疗。",
                AssigneeRule.REP_OR_POOL,
            )
        ],
    ),
    (
        "正畸每月回访",
        None,
        "ORTH",
        "戴用矫治器期间每餐后刷牙、使用牙缝刷；避免啃咬硬物和粘性食物；托槽脱落或钢丝扎嘴请及时联系我们。",
        [
            (
                "正畸月度回访",
                1,
                "months",
                24,
                1,
                "wechat",
                "1. 佩戴情况、有无托槽脱落？\n2. 提醒按月复诊加力。",
                AssigneeRule.REP_OR_POOL,
            )
        ],
    ),
    (
        "冷光美白回访",
        "AE01",
        None,
        "美白后48小时内避免咖啡、茶、红酒、可乐等深色食物和吸烟；如有牙齿敏感可使用抗敏感牙膏。",
        [
            (
                "美白术后第7天回访",
                7,
                "days",
                1,
                1,
                _CALL,
                "1. 颜色是否满意？\n2. 有无敏感？",
                AssigneeRule.REP_OR_POOL,
            )
        ],
    ),
]

# Past visits that leave follow-ups due today and overdue: (days ago, service code, branch code)
PAST_VISITS = [
    (1, "SU01", "JA"),  # extraction D+1: due today
    (3, "EN03", "JA"),  # root canal D+3: due today
    (8, "IM01", "JA"),  # implant: D+1 and D+7 overdue, D+30 ahead
    (9, "AE01", "JA"),  # whitening D+7: two days overdue
    (2, "SU02", "PD"),  # extraction D+1: a day overdue
    (3, "EN02", "PD"),  # root canal D+3: due today
]


def seed_plans() -> int:
    """The issue's plans on the catalogue's items and categories; returns how many were made."""
    made = 0
    items = {i.code: i for i in ServiceItem.objects.all()}
    categories = {c.code: c for c in ServiceCategory.objects.all()}
    for name, item_code, category_code, care, steps in DEFAULT_PLANS:
        item, category = items.get(item_code or ""), categories.get(category_code or "")
        if FollowupPlan.objects.filter(name=name).exists() or (item is None and category is None):
            continue
        plan = FollowupPlan.objects.create(name=name, item=item, category=category, care_instructions=care)
        for order, (title, offset, unit, times, every, channel, script, rule) in enumerate(steps, start=1):
            FollowupStep.objects.create(
                plan=plan,
                order=order,
                title=title,
                offset=offset,
                offset_unit=unit,
                repeat_times=times,
                repeat_every_months=every,
                channel=channel,
                script=script,
                assignee_rule=rule,
            )
        made += 1
    return made


def _past_visit(*, actor, branch: Branch, member, item: ServiceItem, doctor, days_ago: int):
    """A visit checked out ``days_ago`` days ago at 10:00, through the real services (the
    clock is moved back for them), so its tasks and care message are the real ones."""
    from appointments import checkout, services

    day = timezone.localdate() - dt.timedelta(days=days_ago)
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))
    with mock.patch("django.utils.timezone.now", return_value=start + dt.timedelta(minutes=30)):
        appt = services.appointment_book(
            actor=actor,
            branch=branch,
            member=member,
            service=item,
            doctor=doctor,
            start=start,
            channel="phone",
            notes=f"{DEMO_NOTE} 演示：{days_ago}天前的就诊",
            override=False,
            now=start - dt.timedelta(days=1),
        )
        appt = services.appointment_check_in(actor=actor, appointment=appt)
        appt = services.appointment_start_treatment(actor=actor, appointment=appt)
        visit = appt.visit
        checkout.charge_line_add(actor=actor, visit=visit, item=item, teeth=[36] if item.per_tooth else [])
        _lines, result = checkout.quote(visit=visit)
        return checkout.visit_checkout(
            actor=actor,
            visit=visit,
            payments=[("wechat_pay", result.amount_due)] if result.amount_due > Decimal(0) else [],
            checkout_key=f"demo-followups-{appt.pk}",
        )


@transaction.atomic
def seed_followups(*, branches: dict[str, Branch]) -> dict[str, int]:
    # The message templates of the migration (a flushed test database has lost them).
    import importlib

    from django.apps import apps

    from appointments import schedule
    from appointments.errors import AppointmentError
    from appointments.models import Appointment
    from members.models import Member, MemberStatus

    from .plans import plan_tasks_for_visit, tasks_escalate_overdue

    importlib.import_module("followups.migrations.0002_plans").add_templates(apps, None)
    counts = {"plans": seed_plans(), "visits": 0, "tasks": 0}
    rep_user = User.objects.filter(username="service").first()
    if rep_user is not None:
        for member in Member.objects.filter(
            membership__tier__dedicated_rep=True, branch__in=rep_user.staff.branches.all()
        ):
            ServiceRep.objects.get_or_create(member=member, defaults={"rep": rep_user})
    items = {i.code: i for i in ServiceItem.objects.filter(is_active=True)}
    for n, (days_ago, code, branch_code) in enumerate(PAST_VISITS):
        branch = branches.get(branch_code)
        if branch is None or code not in items:
            continue
        note = f"{DEMO_NOTE} 演示：{days_ago}天前的就诊"
        if Appointment.objects.filter(branch=branch, notes=note, service=items[code]).exists():
            continue
        people = list(
            Member.objects.filter(branch=branch, status=MemberStatus.ACTIVE, stage__in=["patient", "member"])
            .exclude(phone="")
            .order_by("id")[20:40]
        ) or list(Member.objects.filter(branch=branch, status=MemberStatus.ACTIVE).order_by("id"))
        if not people:
            continue
        day = timezone.localdate() - dt.timedelta(days=days_ago)
        doctors = list(
            schedule.doctors_for_branch(branch).filter(pk__in=list(schedule.shifts_for_day(branch, day)))
        )
        if not doctors:
            continue
        try:
            visit = _past_visit(
                actor=User.objects.filter(staff__role=Role.FRONT_DESK, staff__branches=branch).first(),
                branch=branch,
                member=people[n % len(people)],
                item=items[code],
                doctor=doctors[0],
                days_ago=days_ago,
            )
        except AppointmentError:
            continue
        counts["visits"] += 1
        counts["tasks"] += len(plan_tasks_for_visit(visit=visit))
    # One task already tried once and not reached, so the work list shows a retry.
    demo_tasks = Task.objects.filter(visit__appointment__notes__startswith=DEMO_NOTE)
    tried = None
    if not demo_tasks.filter(attempts_count__gt=0).exists():  # once, not on every run
        tried = demo_tasks.filter(status=TaskStatus.OPEN).order_by("due_on", "id").first()
    if tried is not None and tried.assignee is not None:
        from .task_services import task_attempt_record

        with mock.patch("django.utils.timezone.now", return_value=timezone.now() - dt.timedelta(days=1)):
            task_attempt_record(
                actor=tried.assignee,
                task=tried,
                outcome=AttemptOutcome.NOT_REACHED,
                notes="无人接听，明天上午再打",
            )
    tasks_escalate_overdue()
    return counts
