"""A year of history for the demo (seed_demo): about 150 people a branch registered over the
last twelve months, each with a few paid visits (some come back, some lapse), with booked,
arrived and treated times — so the dashboard's month against last year, 复诊率, the growth and
dormancy tables, the waits and the closed months all tell a story. Rows are written in bulk
(no points, no messages: history, not things happening now); a second run adds nothing."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from appointments.models import Appointment, Chair, Visit
from clinic.models import Branch, ServiceItem
from members import names
from members.models import AcquisitionChannel, Member

MARK = "[demo-history]"
PER_BRANCH = 150
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = [
    "静",
    "敏",
    "伟",
    "芳",
    "磊",
    "丽",
    "强",
    "娜",
    "洋",
    "艳",
    "杰",
    "婷",
    "涛",
    "慧",
    "军",
    "欣",
    "鹏",
    "雪",
]
DISTRICTS = {
    "JA": ["上海市静安区南京西路", "上海市静安区江宁路", "上海市黄浦区淮海中路", "上海市普陀区长寿路"],
    "PD": ["上海市浦东新区世纪大道", "上海市浦东新区张杨路", "上海市徐汇区漕溪北路", "上海市闵行区七莘路"],
}
ITEMS = ("PV01", "PV02", "RS01", "OR01")


def seed_history(*, branches: dict[str, Branch]) -> int:
    """Returns the number of visits written."""
    if Member.objects.filter(other_contacts=MARK).exists():
        return 0
    User = get_user_model()
    items = [
        i for i in ServiceItem.objects.filter(is_active=True).order_by("code") if i.code in ITEMS
    ] or list(ServiceItem.objects.filter(is_active=True).order_by("code")[:3])
    channels = list(AcquisitionChannel.objects.order_by("pk"))
    rng = random.Random(2026)
    today = timezone.localdate()
    written = 0
    # A doctor (who may work at both branches) and a chair hold one booking an hour (no double
    # booking, as the appointments' exclusion constraint demands): taken (doctor/chair, start).
    taken = set()
    for a in Appointment.objects.filter(start__lt=_at(today, 0)).values(
        "doctor_id", "chair_id", "start", "end"
    ):
        hour = timezone.localtime(a["start"]).replace(minute=0, second=0, microsecond=0)
        while hour < a["end"]:  # every whole-hour slot the booking overlaps
            taken.add(("d", a["doctor_id"], hour))
            taken.add(("c", a["chair_id"], hour))
            hour += dt.timedelta(hours=1)
    existing = set(Member.objects.values_list("name", flat=True))
    with transaction.atomic():
        for code, branch in branches.items():
            doctors = list(User.objects.filter(staff__role="doctor", staff__branches=branch).order_by("pk"))
            cashier = (
                User.objects.filter(staff__role="front_desk", staff__branches=branch).order_by("pk").first()
            )
            chairs = list(Chair.objects.filter(branch=branch, is_active=True))
            if not doctors or not items:
                continue
            people = []
            for i in range(PER_BRANCH):
                # Three characters, never a name the demo's story uses (found by name elsewhere).
                name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
                while name in existing:
                    name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
                created = _at(today - dt.timedelta(days=rng.randint(20, 365)), rng.randint(9, 18))
                phone = f"+86137{branch.pk:02d}{i:06d}"
                full, initials = names.pinyin_forms(name)
                people.append(
                    Member(
                        name=name,
                        phone=phone,
                        phone_digits=phone[3:],
                        phone_last4=phone[-4:],
                        pinyin_full=full,
                        pinyin_initials=initials,
                        name_grams=names.name_grams(name),
                        gender=rng.choice("MF"),
                        birth_date=dt.date(
                            today.year - rng.randint(6, 72), rng.randint(1, 12), rng.randint(1, 28)
                        ),
                        address=f"{rng.choice(DISTRICTS.get(code, DISTRICTS['JA']))}{rng.randint(1, 999)}号",
                        branch=branch,
                        channel=rng.choice(channels) if channels else None,
                        stage="patient",
                        other_contacts=MARK,
                        created_at=created,
                        updated_at=created,
                    )
                )
            Member.objects.bulk_create(people)
            appts, visits, touched = [], [], []
            for person in people:
                first = timezone.localtime(person.created_at).date() + dt.timedelta(days=rng.randint(0, 10))
                n = rng.choice((1, 1, 2, 2, 3, 4))
                day = first
                for k in range(n):
                    if day >= today:
                        break
                    item = rng.choice(items)
                    doctor = doctors[k % len(doctors)]
                    chair = chairs[(k + len(appts)) % len(chairs)] if chairs else None
                    start = None
                    for hour in rng.sample((9, 10, 11, 14, 15, 16), 6):
                        slot = _at(day, hour)
                        if ("d", doctor.pk, slot) not in taken and (
                            "c",
                            chair.pk if chair else None,
                            slot,
                        ) not in taken:
                            start = slot
                            break
                    if start is None:
                        day = day + dt.timedelta(days=1)
                        continue
                    taken.add(("d", doctor.pk, start))
                    if chair:
                        taken.add(("c", chair.pk, start))
                    missed = rng.random() < 0.08
                    wait = dt.timedelta(minutes=rng.choice((3, 5, 8, 10, 15, 20, 30)))
                    appt = Appointment(
                        branch=branch,
                        member=person,
                        service=item,
                        doctor=doctor,
                        chair=chair,
                        start=start,
                        end=start + dt.timedelta(minutes=min(item.duration_minutes or 30, 50)),
                        channel=rng.choice(("phone", "wechat", "web", "platform", "walk_in")),
                        status="no_show" if missed else "completed",
                        notes=f"{MARK} 历史预约",
                        arrived_at=None if missed else start - dt.timedelta(minutes=5),
                        treatment_started_at=None if missed else start - dt.timedelta(minutes=5) + wait,
                        completed_at=None if missed else start + dt.timedelta(minutes=40),
                        no_show_at=start + dt.timedelta(minutes=30) if missed else None,
                    )
                    appts.append(appt)
                    if not missed:
                        amount = Decimal(item.price)
                        visits.append(
                            (
                                appt,
                                Visit(
                                    branch=branch,
                                    member=person,
                                    doctor=appt.doctor,
                                    opened_at=appt.arrived_at,
                                    status="checked_out",
                                    list_total=amount,
                                    amount_due=amount,
                                    amount_paid=amount,
                                    checkout_key=f"history-{branch.pk}-{person.phone[-6:]}-{k}",
                                    checked_out_at=appt.completed_at,
                                    checked_out_by=cashier,
                                ),
                            )
                        )
                        person.last_visit_at = appt.completed_at
                        person.first_visit_at = person.first_visit_at or appt.completed_at
                    day = day + dt.timedelta(days=rng.choice((30, 60, 90, 180, 200)))
                touched.append(person)
            Appointment.objects.bulk_create(appts)
            for appt, visit in visits:
                visit.appointment = appt
            Visit.objects.bulk_create([v for _a, v in visits])
            Member.objects.bulk_update(touched, ["first_visit_at", "last_visit_at"])
            written += len(visits)
    return written


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))
