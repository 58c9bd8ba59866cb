"""Demo clinical records for ``seed_demo``: charts and notes for a few patients of 静安店 (a
cavity found at one visit and filled at the next, so "chart as of" shows the difference), an
implant plan waiting for the senior doctor, and an accepted plan in progress (one item done on
a checked-out visit, one remaining). A senior doctor login (``senior``). Idempotent."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from appointments.models import Visit, VisitStatus
from clinic import services as clinic_services
from clinic.models import Role, ServiceCategory, ServiceItem
from clinic.roles import GROUP_NAMES

from . import services
from .models import ClinicalNote, PlanItemCharge, PlanStatus, PlanType, ToothFinding, TreatmentPlan
from .selectors import review_settings

User = get_user_model()

SENIOR = ("senior", "王建国", "主任医师")
PLAN_TYPES = [
    ("general", "综合治疗", "General treatment", False, 10),
    ("implant", "种植", "Implants", True, 20),
    ("ortho", "正畸", "Orthodontics", True, 30),
    ("prosth", "修复", "Prosthetics", False, 40),
]
REVIEW_TITLE = "右下后牙种植修复"
ACCEPTED_TITLE = "龋齿充填与洁治"


def _senior(branches, password: str):
    user = User.objects.filter(username=SENIOR[0]).first()
    if user is not None:
        return user
    user = User(username=SENIOR[0], first_name=SENIOR[1])
    user.set_password(password)
    user.save()
    # A doctor hired as a senior doctor (上级医生): the role gives every doctor grant and review.
    clinic_services.staff_profile_create(
        actor=None,
        user=user,
        full_name=SENIOR[1],
        role=Role.SENIOR_DOCTOR,
        branches=[branches["JA"], branches["PD"]],
        job_title=SENIOR[2],
    )
    return user


@transaction.atomic
def seed_clinical(*, branches, password: str = "Demo@2026") -> int:
    """Returns the number of plans made."""
    for code, name, name_en, review, order in PLAN_TYPES:
        PlanType.objects.get_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "needs_review": review, "sort_order": order},
        )
    settings_row = review_settings()
    if not settings_row.categories.exists():
        settings_row.categories.set(ServiceCategory.objects.filter(code__in=["IMPL", "ORTH"]))
    Group.objects.get_or_create(name=GROUP_NAMES[Role.SENIOR_DOCTOR])
    _senior(branches, password)
    doctor = User.objects.filter(username="doctor").first()
    if doctor is None:
        return 0
    visits = list(
        Visit.objects.filter(branch=branches["JA"], status=VisitStatus.CHECKED_OUT)
        .select_related("member")
        .order_by("opened_at", "pk")
    )
    by_member: dict[int, list[Visit]] = {}
    for v in visits:
        by_member.setdefault(v.member_id, []).append(v)
    people = [vs for vs in by_member.values() if len(vs) >= 2][:3] or list(by_member.values())[:3]
    # Charted once: a later run sees other visits (other seeders check more out) and must not
    # chart new people.
    charted = ToothFinding.objects.filter(branch=branches["JA"]).exists()
    for member_visits in [] if charted else people:
        member = member_visits[0].member
        if ToothFinding.objects.filter(member=member).exists():
            continue
        first, last = member_visits[0], member_visits[-1]
        services.findings_record(
            actor=doctor,
            member=member,
            visit=first,
            teeth=[16],
            kind="caries",
            surfaces=["O", "M"],
            at=first.opened_at,
        )
        services.findings_record(
            actor=doctor, member=member, visit=first, teeth=[36], kind="missing", at=first.opened_at
        )
        services.findings_record(
            actor=doctor,
            member=member,
            visit=first,
            teeth=[46],
            kind="pocket",
            pockets=[3, 2, 4, 3, 2, 5],
            at=first.opened_at,
        )
        services.findings_record(
            actor=doctor,
            member=member,
            visit=first,
            teeth=[31],
            kind="mobility",
            mobility=1,
            at=first.opened_at,
        )
        services.findings_record(
            actor=doctor, member=member, visit=first, teeth=[26], kind="crown", at=first.opened_at
        )
        if last.pk != first.pk:
            services.findings_record(
                actor=doctor,
                member=member,
                visit=last,
                teeth=[16],
                kind="filled",
                surfaces=["O", "M"],
                at=last.opened_at,
            )
        for visit, text in ((first, "初诊"), (last, "复诊")):
            if ClinicalNote.objects.filter(visit=visit).exists():
                continue
            services.note_write(
                actor=doctor,
                visit=visit,
                chief_complaint="右上后牙冷热敏感两周" if text == "初诊" else "复诊，充填后无不适",
                examination="16 近中𬌗面龋坏，探诊敏感，叩诊(-)；36 缺失"
                if text == "初诊"
                else "16 充填体完好，叩诊(-)",
                diagnosis="16 中龋；36 牙列缺损" if text == "初诊" else "16 中龋充填术后",
                treatment="洁治；16 预约树脂充填" if text == "初诊" else "16 树脂充填完成",
                advice="巴氏刷牙法，使用牙线" if text == "初诊" else "避免咬硬物，半年后复查",
            )
    made = 0
    senior = User.objects.get(username=SENIOR[0])
    implant_type = PlanType.objects.get(code="implant")
    general = PlanType.objects.get(code="general")
    if len(people) >= 1 and not TreatmentPlan.objects.filter(title=REVIEW_TITLE).exists():
        member = people[0][0].member
        plan = services.plan_create(
            actor=doctor, member=member, plan_type=implant_type, title=REVIEW_TITLE, estimated_weeks=16
        )
        phase = plan.phases.first()
        restore = services.plan_phase_add(actor=doctor, plan=plan, name="修复期")
        services.plan_item_add(
            actor=doctor, plan=plan, phase=phase, item=ServiceItem.objects.get(code="EX03")
        )
        services.plan_item_add(
            actor=doctor,
            plan=plan,
            phase=restore,
            item=ServiceItem.objects.get(code="IM01"),
            teeth=[36],
            alternative_group="36 缺牙修复",
        )
        services.plan_item_add(
            actor=doctor,
            plan=plan,
            phase=restore,
            item=ServiceItem.objects.get(code="AE02"),
            teeth=[35, 36, 37],
            alternative_group="36 缺牙修复",
            note="固定桥（三单位）",
        )
        services.plan_submit(actor=doctor, plan=plan)
        made += 1
    if len(people) >= 2 and not TreatmentPlan.objects.filter(title=ACCEPTED_TITLE).exists():
        member_visits = people[1]
        member = member_visits[0].member
        done_visit = member_visits[-1]
        done_line = done_visit.lines.select_related("item").first()
        plan = services.plan_create(
            actor=doctor, member=member, plan_type=general, title=ACCEPTED_TITLE, estimated_weeks=4
        )
        phase = plan.phases.first()
        done_item = None
        if done_line is not None:
            done_item = services.plan_item_add(
                actor=doctor,
                plan=plan,
                phase=phase,
                item=done_line.item,
                teeth=done_line.teeth,
                quantity=done_line.quantity,
            )
        services.plan_item_add(
            actor=doctor, plan=plan, phase=phase, item=ServiceItem.objects.get(code="EN01"), teeth=[16]
        )
        services.plan_item_add(
            actor=doctor, plan=plan, phase=phase, item=ServiceItem.objects.get(code="PV01")
        )
        plan = services.plan_submit(actor=doctor, plan=plan)
        if plan.status == PlanStatus.IN_REVIEW:
            services.plan_review(actor=senior, plan=plan, approve=True)
        services.plan_present(actor=doctor, plan=plan)
        services.plan_accept(actor=doctor, plan=plan)
        if done_item is not None and not hasattr(done_line, "plan_charge"):
            # The demo's visit was checked out before the plan existed: link its line as the
            # item carried out (a real plan item reaches a visit through plan_item_charge).
            PlanItemCharge.objects.create(
                plan_item=done_item, charge_line=done_line, visit=done_visit, created_at=done_visit.opened_at
            )
        made += 1
    return made


__all__ = ["seed_clinical"]
