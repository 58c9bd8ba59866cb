"""Appointments under load, each figure next to a raw-SQL floor from the same run:

1. 50 concurrent requests booking the same doctor-slot through the booking view: exactly one
   succeeds, the rest get the clash message, and nothing answers 500.
2. Checkout of a visit with 5 charge lines (tier discount, points, tier re-evaluation when
   loyalty is installed) among 1M people: p95 of ``visit_checkout``.
3. The day view of a branch with 20 doctors and 400 bookings: queries and p95.

    python -m benchmarks.appointments            # 1M people
    python -m benchmarks.appointments --small    # 20k people, fewer samples (make bench)
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from decimal import Decimal

from benchmarks._common import (
    bench_line,
    p95,
    parser,
    raw_sql,
    setup_django,
    summary,
    synthetic_people,
    time_calls,
)

MARK = "appointments-bench"
DOCTORS = 20
DAY_BOOKINGS = 400


def _people(n: int, branch_id: int) -> list[int]:
    """Ids of ``n`` synthetic people (created once with COPY, reused by later runs)."""
    return synthetic_people(n, branch_id, mark=MARK, name="预约", stage="patient", phones=True)


def _clinic():
    """The bench branch, 20 doctors working 08:00–20:00 every day, a front desk, five services."""
    from django.contrib.auth import get_user_model

    from appointments.models import ShiftTemplate
    from clinic import services
    from clinic.models import Branch, Role, ServiceCategory, ServiceItem

    User = get_user_model()
    branch, _ = Branch.objects.get_or_create(code="BENCH", defaults={"name": "基准门店"})
    doctors = []
    for i in range(DOCTORS):
        user = User.objects.filter(username=f"bench_doc{i}").first()
        if user is None:
            user = services.staff_create(
                actor=None,
                username=f"bench_doc{i}",
                password=None,
                full_name=f"医生{i:02d}",
                role=Role.DOCTOR,
                branches=[branch],
            ).user
        for weekday in range(7):
            ShiftTemplate.objects.get_or_create(
                doctor=user, branch=branch, weekday=weekday, starts=dt.time(8), defaults={"ends": dt.time(20)}
            )
        doctors.append(user)
    desk = User.objects.filter(username="bench_desk").first()
    if desk is None:
        desk = services.staff_create(
            actor=None,
            username="bench_desk",
            password=None,
            full_name="基准前台",
            role=Role.FRONT_DESK,
            branches=[branch],
        ).user
    manager = User.objects.filter(username="bench_manager").first()
    if manager is None:
        manager = services.staff_create(
            actor=None,
            username="bench_manager",
            password=None,
            full_name="基准店长",
            role=Role.BRANCH_MANAGER,
            branches=[branch],
        ).user
    basic, _ = ServiceCategory.objects.get_or_create(
        code="BPREV", defaults={"name": "基准保健", "is_basic_care": True}
    )
    other, _ = ServiceCategory.objects.get_or_create(code="BENDO", defaults={"name": "基准牙体"})
    items = []
    for i, (cat, price) in enumerate(
        [(basic, "280"), (basic, "150"), (other, "400"), (other, "1200"), (basic, "50")]
    ):
        item, _ = ServiceItem.objects.get_or_create(
            code=f"BI{i}",
            defaults={
                "name": f"基准项目{i}",
                "category": cat,
                "price": Decimal(price),
                "duration_minutes": 30,
            },
        )
        items.append(item)
    return branch, doctors, desk, manager, items


def _clear(branch) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """DELETE FROM appointments_reminder WHERE appointment_id IN (SELECT id FROM appointments_appointment WHERE branch_id = %s);
               DELETE FROM appointments_appointmentevent WHERE appointment_id IN (SELECT id FROM appointments_appointment WHERE branch_id = %s);""",
            [branch.pk, branch.pk],
        )
    from appointments.models import Appointment, Payment, Visit, VisitDiscount

    visits = Visit.objects.filter(branch=branch)
    VisitDiscount.objects.filter(visit__in=visits).delete()
    Payment.objects.filter(visit__in=visits, reverses__isnull=False).delete()
    Payment.objects.filter(visit__in=visits).delete()
    visits.delete()
    Appointment.objects.filter(branch=branch).delete()


def _client(user):
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def bench_conflicts(branch, doctor, desk, item, people: list[int], n: int = 50) -> tuple[int, int, int]:
    """n threads POST the same doctor-slot through the booking view at once."""
    from django.db import connection
    from django.urls import reverse

    from appointments.models import Appointment

    day = dt.date.today() + dt.timedelta(days=3)
    clients = [_client(desk) for _ in range(n)]
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait()
            r = clients[i].post(
                reverse("appointments:book"),
                {
                    "member": people[i],
                    "service": item.pk,
                    "doctor": doctor.pk,
                    "date": day.isoformat(),
                    "time": "10:00",
                    "channel": "phone",
                },
            )
            code = r.status_code
            if code == 200 and b'data-testid="clash"' not in r.content:
                code = 299  # a form error that is not the clash
        finally:
            connection.close()
        with lock:
            statuses.append(code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    booked = Appointment.objects.filter(doctor=doctor, start__date=day).count()
    succeeded = statuses.count(302)
    print(
        f"conflicting bookings: {n} requests → {succeeded} booked, {statuses.count(200)} clash messages, statuses {sorted(set(statuses))}, rows {booked}"
    )
    return n, succeeded, sum(1 for s in statuses if s >= 500)


def bench_checkout(branch, doctors, desk, items, people: list[int], samples: int) -> list[float]:
    from django.apps import apps

    from appointments import checkout, services
    from appointments.models import Appointment, Status
    from members.models import Member

    day = dt.date.today() + dt.timedelta(days=5)
    enrol = None
    if apps.is_installed("loyalty"):
        from loyalty.models import Membership
        from loyalty.services import membership_enrol

        enrol = (Membership, membership_enrol)
    visits = []
    from appointments import schedule

    for i in range(samples):
        member = Member.objects.get(pk=people[-(i + 1)])
        if enrol and not enrol[0].objects.filter(member=member).exists():
            enrol[1](actor=None, member=member, branch=branch, welcome_points=0)
        doctor = doctors[i % len(doctors)]
        start = schedule.local_dt(day, dt.time(8)) + dt.timedelta(minutes=30 * (i // len(doctors)))
        appt = services.appointment_book(
            actor=desk, branch=branch, member=member, service=items[0], doctor=doctor, start=start, channel="phone",
            now=start - dt.timedelta(days=2),
        )  # fmt: skip
        Appointment.objects.filter(pk=appt.pk).update(status=Status.ARRIVED)
        appt.status = Status.ARRIVED
        appt = services.appointment_start_treatment(actor=desk, appointment=appt)
        for item in items:
            checkout.charge_line_add(actor=desk, visit=appt.visit, item=item, teeth=[16])
        _lines, result = checkout.quote(visit=appt.visit)  # what the checkout page shows
        visits.append((appt.visit, result.amount_due))
    it = iter(visits)

    def one():
        visit, due = next(it)
        checkout.visit_checkout(
            actor=desk, visit=visit, payments=[("wechat_pay", due)], checkout_key=uuid.uuid4().hex
        )

    return time_calls(one, repeat=samples - 3, warmup=3)


def make_day(branch, doctors, items, people: list[int]) -> dt.date:
    """400 bookings on one day, 20 per doctor (bulk insert: the generator, not the service)."""
    from appointments import schedule
    from appointments.models import Appointment

    day = dt.date.today() + dt.timedelta(days=10)
    rows = []
    per = DAY_BOOKINGS // len(doctors)
    for d, doctor in enumerate(doctors):
        for k in range(per):
            start = schedule.local_dt(day, dt.time(8)) + dt.timedelta(minutes=30 * k)
            rows.append(
                Appointment(
                    branch=branch, member_id=people[(d * per + k) % len(people)], service=items[k % len(items)],
                    doctor=doctor, start=start, end=start + dt.timedelta(minutes=30), channel="phone",
                    status=["booked", "confirmed", "arrived", "completed"][k % 4],
                )
            )  # fmt: skip
    Appointment.objects.bulk_create(rows)
    return day


def main() -> None:
    args = parser(__doc__).parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    setup_django()
    from django.conf import settings

    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the in-process client
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    n_people = 20_000 if args.small else 1_000_000
    samples = 30 if args.small else 200
    branch, doctors, desk, _manager, items = _clinic()
    _clear(branch)
    people = _people(n_people, branch.pk)

    conflicting, succeeded, errors_500 = bench_conflicts(branch, doctors[0], desk, items[0], people)

    checkout_ms = bench_checkout(branch, doctors, desk, items, people, samples)
    floor = raw_sql(
        "SELECT l.id, l.unit_price, l.quantity, c.id FROM appointments_chargeline l JOIN clinic_serviceitem i ON i.id = l.item_id "
        "JOIN clinic_servicecategory c ON c.id = i.category_id WHERE l.visit_id = (SELECT max(id) FROM appointments_visit)"
    )
    floor_ms = time_calls(floor, repeat=samples)
    print(
        f"checkout (5 lines, points, tier): {summary(checkout_ms)}; raw read floor {summary(floor_ms)}; ratio {p95(checkout_ms) / max(p95(floor_ms), 0.001):.1f}x"
    )

    day = make_day(branch, doctors, items, people)
    client = _client(desk)
    url = reverse("appointments:day") + f"?date={day.isoformat()}"
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    cards = response.content.decode().count('data-testid="appt-card"')
    dayview_queries = len(ctx.captured_queries)
    dayview_ms = time_calls(lambda: client.get(url), repeat=20 if args.small else 100)
    day_floor = raw_sql(
        "SELECT a.id, a.start, a.end, a.status, m.name, s.name, u.full_name FROM appointments_appointment a "
        "JOIN members_member m ON m.id = a.member_id JOIN clinic_serviceitem s ON s.id = a.service_id "
        "JOIN clinic_staffprofile u ON u.user_id = a.doctor_id WHERE a.branch_id = %s AND a.start >= %s AND a.start < %s",
        [branch.pk, day, day + dt.timedelta(days=1)],
    )
    day_floor_ms = time_calls(day_floor, repeat=50)
    print(
        f"day view ({len(doctors)} doctors, {cards} bookings): {dayview_queries} queries, {summary(dayview_ms)}; raw floor {summary(day_floor_ms)}; ratio {p95(dayview_ms) / max(p95(day_floor_ms), 0.001):.1f}x"
    )
    _clear(branch)
    bench_line(
        "appointments",
        conflicting=conflicting,
        succeeded=succeeded,
        errors_500=errors_500,
        checkout_p95_ms=p95(checkout_ms),
        dayview_queries=dayview_queries,
        dayview_p95_ms=p95(dayview_ms),
    )


if __name__ == "__main__":
    main()
