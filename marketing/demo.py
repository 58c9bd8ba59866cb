"""Demo data for consultations, called by ``seed_demo`` after the appointments demo: a month
of consultations at both branches across the channels and consultants — some booked, arrived,
paid and enrolled, some 考虑中 with a next step due today — and the links of today's demo
bookings to their consultations (arrivals, paid visits: what the signals do after commit).

Idempotent: a branch that has demo consultations (``[demo]`` in the reason) is left alone.
Bookings cannot be made in the past, so the older consultations' stage dates are the
demo's history, written directly like an import of an old system's records."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from clinic import services as clinic_services
from clinic.models import Branch, Role, ServiceItem
from members.models import Member, MemberStatus

from . import consultations as services
from .attribution import visit_touch_record
from .consultation_models import Consultation, ConsultationChannel, Outcome

DEMO = "[demo]"
PASSWORD = "Demo@2026"
User = get_user_model()

# username, full name, branch code (the foundation's "consultant" 王佳怡 works at 静安)
CONSULTANTS = [("consultant_zhou", "周婷", "JA"), ("consultant_pd", "许莉", "PD")]
QUESTIONS = [
    (
        "种植牙一颗大概多少钱？用什么品牌的种植体？",
        ["IM02"],
        "12800",
        Outcome.CONSIDERING,
        "",
        "发种植案例和分期方案",
    ),
    ("孩子牙齿不齐，想了解隐形矫正", ["OR01"], "25000", Outcome.CONSIDERING, "", "约周末带孩子面诊"),
    ("洗牙多少钱，周末能约吗", ["PV01"], "280", Outcome.BOOKED, "", ""),
    ("智齿发炎疼了三天", ["EX01"], "50", Outcome.BOOKED, "", ""),
    ("美白一次能白几度", ["PV03"], "1980", Outcome.PRICE, "觉得价格偏高", ""),
    ("已经在别家做了根管，想问复查", ["EX01"], None, Outcome.ELSEWHERE, "在别家治疗中", ""),
    ("推销电话", [], None, Outcome.INVALID, "广告推销", ""),
    ("补牙能走医保吗", ["EN01"], "400", Outcome.CONSIDERING, "", "确认医保政策后回电"),
]


def _consultant(username: str, full_name: str, branch: Branch):
    user = User.objects.filter(username=username).first()
    if user is None:
        user = clinic_services.staff_create(
            actor=None,
            username=username,
            password=PASSWORD,
            full_name=full_name,
            role=Role.CONSULTANT,
            branches=[branch],
            job_title="咨询师",
        ).user
    return user


@transaction.atomic
def seed_consultations(*, branches: dict[str, Branch]) -> int:
    """Returns the number of consultations created."""
    if not ConsultationChannel.objects.exists():  # a flushed database (tests) lost the migration's rows
        import importlib

        from django.apps import apps

        seeded = importlib.import_module("marketing.migrations.0002_consultations")
        seeded.add_channels(apps, None)
        seeded.add_templates(apps, None)
    for username, full_name, code in CONSULTANTS:
        if code in branches:
            _consultant(username, full_name, branches[code])
    made = 0
    for branch in branches.values():
        made += _seed_branch(branch)
    _link_today(branches)
    return made


def _seed_branch(branch: Branch) -> int:
    if (
        Consultation.objects.filter(branch=branch, outcome_reason__contains=DEMO).exists()
        or Consultation.objects.filter(branch=branch, question__contains=DEMO).exists()
    ):
        return 0
    consultants = list(
        User.objects.filter(staff__role=Role.CONSULTANT, staff__branches=branch, is_active=True).order_by(
            "pk"
        )
    )
    channels = list(ConsultationChannel.objects.filter(is_active=True))
    people = list(Member.objects.filter(branch=branch, status=MemberStatus.ACTIVE).order_by("id")[:40])
    if not consultants or not channels or not people:
        return 0
    items = {i.code: i for i in ServiceItem.objects.filter(is_active=True)}
    rng = random.Random(f"demo-{branch.code}")
    now = timezone.now()
    today = timezone.localdate()
    made = 0
    for n in range(36):
        days_ago = 30 - (n * 30) // 36
        at = now - dt.timedelta(days=days_ago, hours=rng.randint(0, 6))
        question, codes, quote, outcome, reason, step = QUESTIONS[n % len(QUESTIONS)]
        consultant = consultants[n % len(consultants)]
        due = None
        if step:
            # The foundation consultant's open steps land on today; others spread over the week.
            due = (
                today if n % 3 == 0 else max(timezone.localtime(at).date(), today) + dt.timedelta(days=n % 5)
            )
        c = services.consultation_log(
            actor=consultant,
            branch=branch,
            channel=channels[n % len(channels)],
            member=people[n % len(people)],
            question=f"{question} {DEMO}",
            services=[items[c] for c in codes if c in items],
            quote=Decimal(quote) if quote else None,
            outcome=outcome,
            outcome_reason=reason,
            next_step=step,
            next_step_due=due,
            at=at,
        )
        made += 1
        if outcome == Outcome.BOOKED and days_ago > 2:
            _history(c, rng, quote)
    return made


def _history(c: Consultation, rng: random.Random, quote) -> None:
    """The demo's past: booked a day or two later, most came, most of those paid, some enrolled."""
    start = c.on
    booked = start + dt.timedelta(days=rng.randint(0, 2))
    fields = {"booked_on": booked}
    if rng.random() < 0.8:
        fields["arrived_on"] = booked + dt.timedelta(days=rng.randint(1, 5))
        if rng.random() < 0.85:
            fields["paid_on"] = fields["arrived_on"]
            fields["revenue"] = Decimal(quote or "280")
            if rng.random() < 0.4:
                fields["enrolled_on"] = fields["paid_on"]
    today = timezone.localdate()
    fields = {k: (min(v, today) if isinstance(v, dt.date) else v) for k, v in fields.items()}
    Consultation.objects.filter(pk=c.pk).update(**fields)


def _link_today(branches: dict[str, Branch]) -> None:
    """Today's demo bookings (appointments' demo) whose people consulted: their arrivals and
    paid visits are recorded the way appointments' signals record them after commit."""
    from appointments.models import Appointment, Status, Visit, VisitStatus

    lo = timezone.now().replace(hour=0, minute=0) - dt.timedelta(days=1)
    for appt in Appointment.objects.filter(
        branch__in=list(branches.values()),
        start__gte=lo,
        status__in=[Status.ARRIVED, Status.IN_TREATMENT, Status.COMPLETED],
    ).order_by("pk"):
        services.consultation_arrival_record(appointment=appt)
    for visit in Visit.objects.filter(
        branch__in=list(branches.values()), status=VisitStatus.CHECKED_OUT, checked_out_at__gte=lo
    ).order_by("pk"):
        visit_touch_record(visit=visit)
