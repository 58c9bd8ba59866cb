"""The member portal's pages at scale: 20,000 members made with COPY (each with past bookings
and coupons, a share with points), then every portal page a member opens, rendered on the
server through the test client with a real member session, for one fully furnished family
(card, points, coupons, an upcoming booking, an event sign-up, a pending survey).

For each page: the server time (median, p95) and the bytes a first visit transfers (the HTML
plus the stylesheets, scripts and images it references, gzip-compressed as whitenoise serves
them; later visits take the assets from the cache). The floor is the raw SQL of the member's
upcoming bookings, measured in the same run.

    python -m benchmarks.portal            # 20,000 members
    python -m benchmarks.portal --small    # 2,000

Ends with ``BENCH portal pages=<n> page_p95_ms_max=<x> page_kb_max=<x> …``. Bars (issue 18):
p95 < 150 ms and < 200 KB on a first visit.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import time
from pathlib import Path

from benchmarks._common import (
    bench_line,
    copy_rows,
    p95,
    parser,
    raw_sql,
    setup_django,
    summary,
    synthetic_people,
)

MARK = "bench-portal"
PHONE = "+8613955550001"
APPT_COLUMNS = (
    "branch_id", "member_id", "service_id", "doctor_id", "chair_id", "start", '"end"', "channel", "status",
    "notes", "overbooked", "priority_slot", "created_by_id", "created_at", "confirmed_at", "arrived_at",
    "treatment_started_at", "completed_at", "cancelled_at", "cancelled_by_id", "cancel_reason", "no_show_at",
)  # fmt: skip
# Pages that are not a page a logged-in member reads (log-in steps, POST-only actions, images).
SKIP = {
    "login", "login_code", "logout", "wechat_start", "wechat_callback", "switch", "language",
    "card_qr", "appointment_cancel", "event_signup", "event_cancel", "privacy_export", "privacy_erase",
}  # fmt: skip


def _world():
    """The bench branch, doctor, a bookable service, and the furnished family (services)."""
    from django.contrib.auth import get_user_model

    from clinic import services as clinic_services
    from clinic.models import Branch, Role, ServiceCategory, ServiceItem

    branch, _ = Branch.objects.get_or_create(code="BPT1", defaults={"name": "压测门户店"})
    cat, _ = ServiceCategory.objects.get_or_create(code="BPTC", defaults={"name": "压测预防"})
    service, _ = ServiceItem.objects.get_or_create(
        code="BPT01",
        defaults={
            "name": "压测洁牙",
            "category": cat,
            "price": 280,
            "duration_minutes": 30,
            "bookable_online": True,
        },
    )
    doctor = get_user_model().objects.filter(username="bench_portal_doc").first()
    if doctor is None:
        from appointments.models import ShiftTemplate

        doctor = clinic_services.staff_create(
            actor=None,
            username="bench_portal_doc",
            password="Bench@2026!",
            full_name="压测医生",
            role=Role.DOCTOR,
            branches=[branch],
        ).user
        for weekday in range(7):
            for s, e in ((9, 12), (13, 18)):
                ShiftTemplate.objects.create(
                    doctor=doctor, branch=branch, weekday=weekday, starts=dt.time(s), ends=dt.time(e)
                )
    return branch, service, doctor


def _generate(people: list[int], branch, service, doctor, per_member: int) -> None:
    """Past completed bookings for every synthetic member (distinct times: the exclusion
    constraint holds for COPY too)."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM appointments_appointment WHERE notes = %s", [MARK])
        if cursor.fetchone()[0] >= len(people) * per_member:
            return
        cursor.execute("DELETE FROM appointments_appointment WHERE notes = %s", [MARK])
    base = dt.datetime(2020, 1, 1, 1, 0, tzinfo=dt.UTC)

    def rows():
        n = 0
        for member_id in people:
            for _ in range(per_member):
                start = base + dt.timedelta(minutes=30 * n)
                n += 1
                yield (
                    branch.pk, member_id, service.pk, doctor.pk, None, start.isoformat(),
                    (start + dt.timedelta(minutes=30)).isoformat(), "phone", "completed", MARK, "f", "f", None,
                    start.isoformat(), None, None, None, start.isoformat(), None, None, "", None,
                )  # fmt: skip

    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        copy_rows("appointments_appointment", APPT_COLUMNS, rows())
        cursor.execute("ANALYZE appointments_appointment")
    print(f"generated {len(people) * per_member} past bookings in {time.perf_counter() - t:.1f}s", flush=True)


def _family(branch, service, doctor):
    """The measured member: enrolled, points, two coupons, an upcoming online booking, an event
    sign-up (made through the services, once)."""
    from django.utils import timezone

    from appointments.models import Appointment
    from appointments.services import online
    from loyalty import services as loyalty_services
    from marketing import campaigns
    from marketing.models import Campaign, CampaignKind
    from members.actors import member_actor
    from members.models import Member
    from members.services import member_register

    member = Member.objects.filter(phone=PHONE, branch=branch).first()
    if member is None:
        member = member_register(actor=None, branch=branch, name="压测会员", phone=PHONE, stage="patient")
        membership = loyalty_services.membership_enrol(
            actor=None, member=member, branch=branch, welcome_points=0
        )
        from loyalty.services.ledger import points_earn

        for i in range(30):
            points_earn(
                actor=None, member=member, points=100 + i, reason="压测", idempotency_key=f"bench:portal:{i}"
            )
        _ = membership
    if not Appointment.objects.filter(member=member, start__gte=timezone.now()).exists():
        day = timezone.localdate() + dt.timedelta(days=2)
        slots = online.online_slots(service=service, branch=branch, start_day=day, member=member)
        if slots:
            online.member_appointment_book(
                actor=member_actor(member),
                member=member,
                branch=branch,
                service=service,
                start=slots[0].start,
                doctor_id=slots[0].doctor_id,
            )
    event = Campaign.objects.filter(branch=branch, name="压测讲座", ends_at__gt=timezone.now()).first()
    if event is None:
        start = timezone.now() + dt.timedelta(days=5)
        event = campaigns.campaign_create(
            actor=doctor, branch=branch, name="压测讲座", kind=CampaignKind.TALK, starts_at=start,
            ends_at=start + dt.timedelta(hours=2), capacity=50,
        )  # fmt: skip
    if not event.signups.filter(member=member).exists():
        campaigns.member_signup_create(actor=member_actor(member), campaign=event, member=member)
    return member, event


def _client(phone: str):
    from importlib import import_module

    from django.conf import settings
    from django.test import Client

    from portal import session as portal_session

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[portal_session.PHONE] = phone
    store[portal_session.VIA] = "sms"
    store.set_expiry(portal_session.session_age())
    store.save()
    client = Client()
    client.cookies[portal_session.cookie_name()] = store.session_key
    return client


_ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def _asset_bytes(path: str, cache: dict) -> int:
    """The gzip size of one static file (what whitenoise's compressed storage sends)."""
    if path not in cache:
        from django.contrib.staticfiles import finders

        found = finders.find(path.removeprefix("/static/").split("?")[0])
        data = Path(found).read_bytes() if found else b""
        cache[path] = len(gzip.compress(data, 6))
    return cache[path]


def _pages(member, event, service, branch) -> list[tuple[str, str]]:
    from django.urls import get_resolver, reverse

    from appointments.models import Appointment

    portal = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "portal")
    upcoming = Appointment.objects.filter(member=member, status="booked").order_by("-start").first()
    args = {"appointment_reschedule": [upcoming.pk] if upcoming else None, "event_ticket": [event.pk]}
    out = []
    for p in portal.url_patterns:
        name = getattr(p, "name", None)
        if not name or name in SKIP:
            continue
        if p.pattern.converters:
            if not args.get(name):
                continue
            out.append((name, reverse(f"portal:{name}", args=args[name])))
        else:
            out.append((name, reverse(f"portal:{name}")))
    out.append(("book (free times)", reverse("portal:book") + f"?service={service.pk}&branch={branch.pk}"))
    return out


def main() -> None:
    p = parser("Member portal pages benchmark")
    p.add_argument("--members", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=40)
    args = p.parse_args()
    if args.small:
        args.members, args.repeat = 2_000, 15
    setup_django()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    branch, service, doctor = _world()
    people = synthetic_people(args.members, branch.pk, mark=MARK, name="门户", stage="patient", phones=True)
    _generate(people, branch, service, doctor, per_member=3)
    member, event = _family(branch, service, doctor)
    client = _client(PHONE)
    cache: dict[str, int] = {}
    worst_ms, worst_kb, rows = 0.0, 0.0, []
    for name, url in _pages(member, event, service, branch):
        response = client.get(url)
        if response.status_code != 200:
            print(f"  {name:<24} {url} -> {response.status_code}", flush=True)
            continue
        html = response.content
        assets = sorted(set(_ASSET.findall(html.decode("utf-8", "replace"))))
        kb = (len(gzip.compress(html, 6)) + sum(_asset_bytes(a, cache) for a in assets)) / 1024
        samples = []
        for _ in range(3):
            client.get(url)
        for _ in range(args.repeat):
            t = time.perf_counter()
            client.get(url)
            samples.append((time.perf_counter() - t) * 1000)
        rows.append(name)
        worst_ms, worst_kb = max(worst_ms, p95(samples)), max(worst_kb, kb)
        print(f"  {name:<24} {summary(samples)}  first visit {kb:6.1f} KB ({len(assets)} assets)", flush=True)
    floor_fn = raw_sql(
        "SELECT id, start, service_id FROM appointments_appointment WHERE member_id = %s ORDER BY start DESC LIMIT 20",
        [member.pk],
    )
    floor = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        floor_fn()
        floor.append((time.perf_counter() - t) * 1000)
    print(f"  floor: a member's bookings by raw SQL {summary(floor)}", flush=True)
    bench_line(
        "portal",
        pages=len(rows),
        page_p95_ms_max=worst_ms,
        page_kb_max=worst_kb,
        members=args.members,
        floor_p95_ms=p95(floor),
    )


if __name__ == "__main__":
    main()
