"""Demo recalls, survey answers and a birthday for ``seed_demo`` (after appointments' demo).
Idempotent: recalls are one per person and type, survey answers one per visit, the birthday
person is found by name and phone.

The demo has no visits before today, so the recalls due this month carry their history as
dates only (a last cleaning six months ago), as an import from an old system would."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from appointments.models import Visit, VisitStatus
from clinic.models import Branch, ServiceCategory, ServiceItem
from loyalty.services.ledger import add_months
from members.models import Member, MemberStatus, Stage

from .models import Recall, RecallType, SurveyInvitation, SurveyResponse
from .recall_seed import seed as seed_rows
from .surveys import Answer, survey_answer, survey_invite, survey_token

TRIGGERS = {
    "cleaning": (["PV01", "PV02"], []),
    "orthodontic": ([], ["ORTH"]),
    "fluoride": (["PE01", "PV03"], []),
}

ANSWERS = [
    Answer(
        doctor_score=5,
        front_desk_score=5,
        environment_score=5,
        waiting_score=4,
        nps=10,
        tags=("professional",),
    ),
    Answer(
        doctor_score=5, front_desk_score=4, environment_score=4, waiting_score=4, nps=9, tags=("explained",)
    ),
    Answer(
        doctor_score=4,
        front_desk_score=2,
        environment_score=4,
        waiting_score=1,
        nps=5,
        tags=("long_wait",),
        comment="预约了还等了四十分钟，前台也没有解释。",
    ),
]

BIRTHDAY_PERSON = ("周生日", "13700007788")


def seed_recalls(*, branches: dict[str, Branch]) -> dict[str, int]:
    from django.apps import apps

    seed_rows(apps)  # a flushing test may have removed what the migration made
    _link_triggers()
    today = timezone.localdate()
    cleaning = RecallType.objects.get(code="cleaning")
    made = 0
    for branch in branches.values():
        people = Member.objects.filter(
            branch=branch, status=MemberStatus.ACTIVE, stage__in=[Stage.PATIENT, Stage.MEMBER]
        ).order_by("pk")[:8]
        for n, person in enumerate(people):
            due = today.replace(day=1) + dt.timedelta(days=(3 * n) % 27)
            _recall, created = Recall.objects.get_or_create(
                member=person,
                recall_type=cleaning,
                defaults={
                    "branch": branch,
                    "last_visit_on": add_months(due, -cleaning.interval_months),
                    "due_on": due,
                },
            )
            made += created
    return {"recalls": made, "answers": _seed_answers(branches), "birthday": _seed_birthday(branches)}


def _link_triggers() -> None:
    for code, (items, categories) in TRIGGERS.items():
        rt = RecallType.objects.filter(code=code).first()
        if rt is None or rt.trigger_services.exists() or rt.trigger_categories.exists():
            continue
        rt.trigger_services.set(ServiceItem.objects.filter(code__in=items))
        rt.trigger_categories.set(ServiceCategory.objects.filter(code__in=categories))


# Extra visits today (a fluoride varnish late in the day) so each branch has surveys to show.
SURVEY_SLOTS = [dt.time(17, 0), dt.time(17, 20), dt.time(17, 40)]


def _survey_visits(branches: dict[str, Branch]) -> None:
    from django.contrib.auth import get_user_model

    from appointments import schedule, services
    from appointments.demo import DEMO, _advance
    from appointments.errors import AppointmentError
    from clinic.models import Role

    User = get_user_model()
    today = timezone.localdate()
    items = {i.code: i for i in ServiceItem.objects.filter(is_active=True)}
    item = items.get("PV03")
    if item is None:
        return
    for branch in branches.values():
        lo, _hi = schedule.day_bounds(today)
        if Visit.objects.filter(
            branch=branch, appointment__notes=f"{DEMO} 满意度演示", opened_at__gte=lo
        ).exists():
            continue
        shifts = schedule.shifts_for_day(branch, today)
        doctors = list(schedule.doctors_for_branch(branch).filter(pk__in=list(shifts)))
        people = list(
            Member.objects.filter(branch=branch, status=MemberStatus.ACTIVE, stage=Stage.MEMBER).order_by(
                "-pk"
            )[:3]
        )
        actor = User.objects.filter(staff__role=Role.FRONT_DESK, staff__branches=branch).first()
        morning = schedule.local_dt(today, dt.time(8))
        for n, at in enumerate(SURVEY_SLOTS[: len(people)]):
            start = schedule.local_dt(today, at)
            doctor = next((d for d in doctors if any(s <= start < e for s, e in shifts.get(d.pk, []))), None)
            if doctor is None:
                continue
            try:
                appt = services.appointment_book(
                    actor=actor,
                    branch=branch,
                    member=people[n],
                    service=item,
                    doctor=doctor,
                    start=start,
                    channel="wechat",
                    notes=f"{DEMO} 满意度演示",
                    now=min(morning, timezone.now()),
                )
                _advance(appt, "completed", actor, {})
            except AppointmentError:
                continue


def _seed_answers(branches: dict[str, Branch]) -> int:
    """Answers to the surveys of today's checked-out visits (one of them unhappy), and one
    invitation left unanswered per branch."""
    _survey_visits(branches)
    made = 0
    visits = Visit.objects.filter(status=VisitStatus.CHECKED_OUT).order_by("branch_id", "pk")
    by_branch: dict[int, list[Visit]] = {}
    for visit in visits:
        by_branch.setdefault(visit.branch_id, []).append(visit)
    for branch_visits in by_branch.values():
        for n, visit in enumerate(branch_visits[: len(ANSWERS) + 1]):
            inv = survey_invite(visit=visit)
            if inv is None or n >= len(ANSWERS) or SurveyResponse.objects.filter(invitation=inv).exists():
                continue
            survey_answer(token=survey_token(inv), answer=ANSWERS[n])
            made += 1
    return made


def _seed_birthday(branches: dict[str, Branch]) -> int:
    from members import services as member_services

    name, phone = BIRTHDAY_PERSON
    if Member.objects.filter(Q(name=name) & Q(phone__endswith=phone[-8:])).exists():
        return 0
    today = timezone.localdate()
    birth = (
        today.replace(year=today.year - 34)
        if not (today.month == 2 and today.day == 29)
        else today.replace(year=today.year - 36)
    )
    member_services.member_register(
        actor=None,
        branch=branches["JA"],
        name=name,
        phone=phone,
        gender="F",
        birth_date=birth,
        stage=Stage.PATIENT,
        allow_duplicate=True,
    )
    return 1


def demo_invitation(branch: Branch) -> SurveyInvitation | None:
    """An unanswered invitation of ``branch`` (for the URL matrix and the screenshots)."""
    return SurveyInvitation.objects.filter(branch=branch, response__isnull=True).order_by("pk").first()
