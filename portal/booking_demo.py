"""The demo's member-side bookings, events and surveys (``seed_demo``, after every app's own
demo and the portal's demo family): the services HQ opens to online booking (超声洁牙,
口腔检查), the demo member's upcoming online booking, their sign-up for the upcoming event,
and a survey waiting to be answered. Idempotent: each step looks for what it made before."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from clinic.models import ServiceItem
from clinic.services import record_save

ONLINE_ITEMS = ("PV01", "EX01")
SURVEY_NOTE = "[demo] 会员端满意度"


def demo_member(branches):
    """The portal's demo member (portal/demo.py: 张伟, 13812345678), else the first card
    member of 静安 with a phone."""
    from members.models import Member, MemberStatus, Stage

    from .demo import DEMO_NAME, DEMO_PHONE

    member = Member.objects.filter(name=DEMO_NAME, phone=DEMO_PHONE).first()
    if member is not None:
        return member
    branch = branches.get("JA") or next(iter(branches.values()))
    return (
        Member.objects.filter(branch=branch, stage=Stage.MEMBER, status=MemberStatus.ACTIVE)
        .exclude(phone="")
        .order_by("pk")
        .first()
    )


def seed_portal_booking(*, branches, member=None) -> dict[str, int]:
    from appointments.models import Appointment, Channel, Status
    from appointments.services import online
    from members.actors import member_actor

    made = {"bookable": 0, "booking": 0, "signup": 0, "survey": 0}
    member = member or demo_member(branches)
    for item in ServiceItem.objects.filter(code__in=ONLINE_ITEMS, bookable_online=False):
        item.bookable_online = True
        record_save(actor=None, instance=item)
        made["bookable"] += 1
    if member is None:
        return made
    actor = member_actor(member)
    branch = member.branch
    if not Appointment.objects.filter(
        member=member,
        channel=Channel.H5,
        status__in=(Status.BOOKED, Status.CONFIRMED),
        start__gte=timezone.now(),
    ).exists():
        service = ServiceItem.objects.filter(code="PV01").first()
        for offset in range(2, 9):
            day = timezone.localdate() + dt.timedelta(days=offset)
            slots = [
                s
                for s in online.online_slots(service=service, branch=branch, start_day=day, member=member)
                if timezone.localtime(s.start).hour >= 10
            ]
            if slots:
                online.member_appointment_book(
                    actor=actor,
                    member=member,
                    branch=branch,
                    service=service,
                    start=slots[0].start,
                    doctor_id=slots[0].doctor_id,
                    notes="[demo]",
                )
                made["booking"] = 1
                break
    made["signup"] = _signup(member, actor)
    made["survey"] = _survey(member, branch)
    return made


def _signup(member, actor) -> int:
    from marketing import campaigns
    from marketing.campaign_demo import UPCOMING
    from marketing.models import Campaign, CampaignSignup

    if CampaignSignup.objects.filter(member=member, channel="h5").exclude(status="cancelled").exists():
        return 0
    open_events = [
        c
        for c in campaigns.member_campaigns(member).filter(starts_at__gt=timezone.now())
        if not c.capacity or c.taken < c.capacity
    ]
    event = next((c for c in open_events if c.name == UPCOMING), None) or (
        open_events[0] if open_events else None
    )
    event = event or Campaign.objects.filter(name=UPCOMING, ends_at__gt=timezone.now()).first()
    if event is None or event.signups.filter(member=member).exclude(status="cancelled").exists():
        return 0
    campaigns.member_signup_create(actor=actor, campaign=event, member=member)
    return 1


def _survey(member, branch) -> int:
    """A cleaning checked out this morning, so the member has a survey to answer."""
    from django.contrib.auth import get_user_model

    from appointments import schedule, services
    from appointments.demo import _advance
    from appointments.errors import AppointmentError
    from appointments.models import Visit
    from clinic.models import Role
    from followups.surveys import member_surveys_pending, survey_invite

    if member_surveys_pending(member.pk).exists():
        return 0
    from followups.models import SurveyResponse

    answered = SurveyResponse.objects.filter(member_id=member.pk).values("invitation__visit_id")
    visit = (
        Visit.objects.filter(
            member=member, status="checked_out", checked_out_at__gte=timezone.now() - dt.timedelta(days=5)
        )
        .exclude(pk__in=answered)
        .order_by("-checked_out_at")
        .first()
    )
    if visit is None:
        item = (
            ServiceItem.objects.filter(code="EX01").first() or ServiceItem.objects.filter(code="PV01").first()
        )
        today = timezone.localdate()
        shifts = schedule.shifts_for_day(branch, today)
        doctors = list(schedule.doctors_for_branch(branch).filter(pk__in=list(shifts)))
        actor = get_user_model().objects.filter(staff__role=Role.FRONT_DESK, staff__branches=branch).first()
        morning = schedule.local_dt(today, dt.time(7))
        for hour, minute in ((11, 30), (17, 30), (16, 45), (11, 0), (15, 30), (9, 0)):
            start = schedule.local_dt(today, dt.time(hour, minute))
            doctor = next((d for d in doctors if any(s <= start < e for s, e in shifts.get(d.pk, []))), None)
            if doctor is None:
                continue
            try:
                appt = services.appointment_book(
                    actor=actor, branch=branch, member=member, service=item, doctor=doctor, start=start,
                    channel="phone", notes=SURVEY_NOTE, now=min(morning, timezone.now()),
                )  # fmt: skip
                _advance(appt, "completed", actor, {})
            except AppointmentError:
                continue
            visit = Visit.objects.filter(appointment=appt).first()
            break
    if visit is None:
        return 0
    inv = survey_invite(visit=visit)
    return int(inv is not None and member_surveys_pending(member.pk).filter(pk=inv.pk).exists())
