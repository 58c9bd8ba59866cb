"""The load test's users (benchmarks/load.py) against the real pages, without running locust:
the locust user classes import; the load members made in bulk keep the points ledger
balanced; the portal user's log-in helper reads the code the member is sent and logs in;
the portal user's and the front desk's forms, posted as the locust users post them, book,
cancel and check out (coupon and points) exactly as in the browser."""

from __future__ import annotations

import importlib
import json
import os
import sys
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    """benchmarks._load_locustfile and _load_portal imported as locust would (minus gevent's
    monkey patching, which must not touch the test process), over a small plan."""
    plan = tmp_path_factory.mktemp("load") / "plan.json"
    plan.write_text(json.dumps({"staff": [], "portal": [], "time_zone": "Asia/Shanghai"}), encoding="utf-8")
    env = {
        "LOCUST_SKIP_MONKEY_PATCH": "1",
        "LOAD_PLAN": str(plan),
        "LOAD_STAFF_USERS": "2",
        "LOAD_PORTAL_USERS": "3",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    for name in ("benchmarks._load_plan", "benchmarks._load_portal", "benchmarks._load_locustfile"):
        sys.modules.pop(name, None)
    try:
        pytest.importorskip("locust")  # after LOCUST_SKIP_MONKEY_PATCH: no gevent patching here
        locustfile = importlib.import_module("benchmarks._load_locustfile")
        portal = importlib.import_module("benchmarks._load_portal")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return SimpleNamespace(locustfile=locustfile, portal=portal)


@pytest.fixture
def world(branch, time_machine):
    from benchmarks import load
    from tests.appointments.factories import at

    time_machine.move_to(at(0, 8), tick=False)
    cat = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    cleaning = ServiceItemFactory(
        code=load.VISIT_SERVICE, category=cat, price="280.00", duration_minutes=45, bookable_online=True
    )
    scan = ServiceItemFactory(code=load.EXTRA_SERVICE, category=cat, price="480.00", duration_minutes=15)
    doctor = make_doctor(branch, "load_doctor_0", "压测医生")
    template, reward = load.load_coupon_and_reward(cleaning)
    portal, desk = load.load_members(
        branch, portal=2, desk=3, template=template, reward_points=reward.points_cost
    )
    return SimpleNamespace(
        branch=branch,
        cleaning=cleaning,
        scan=scan,
        doctor=doctor,
        reward=reward,
        template=template,
        portal=portal,
        desk=desk,
        load=load,
    )


def test_the_locust_user_classes_import_with_their_fixed_counts(users):
    staff, portal = users.locustfile.StaffUser, users.locustfile.PortalUser
    assert staff.fixed_count == 2 and portal.fixed_count == 3
    assert portal is users.portal.PortalUser
    staff_tasks = {t.__name__ for t in staff.tasks}
    assert {"visit", "booking", "check_in", "search", "dashboard"} <= staff_tasks
    assert {"points", "coupons", "appointments", "booking"} <= {t.__name__ for t in portal.tasks}


def test_load_members_have_points_a_coupon_and_a_balanced_ledger(world):
    from loyalty.coupon_models import Coupon
    from loyalty.models import Membership, PointsAccount
    from loyalty.services.ledger_jobs import ledger_drift_rows
    from members.models import Member

    phones = [p["phone"] for p in world.portal]
    assert len(set(phones)) == 2 and all(p.startswith("+86166") and len(p) == 14 for p in phones)
    ids = [m.pk for m in Member.objects.filter(phone__in=phones)] + [d["member"] for d in world.desk]
    assert len(set(ids)) == 5
    assert Membership.objects.filter(member_id__in=ids).count() == 5
    assert set(PointsAccount.objects.filter(member_id__in=ids).values_list("balance", flat=True)) == {
        world.load.MEMBER_POINTS
    }
    for d in world.desk:
        coupon = Coupon.objects.get(code=d["coupon"])
        assert coupon.member_id == d["member"] and coupon.used_at is None
    assert ledger_drift_rows() == []
    # A second run reuses them: the same portal phones, the same unused desk members.
    again = world.load.load_members(
        world.branch, portal=2, desk=3, template=world.template, reward_points=world.reward.points_cost
    )
    assert again == (world.portal, world.desk)


def test_the_portal_user_logs_in_with_the_code_it_reads_and_books_and_cancels(users, world):
    from appointments.models import Appointment, Status

    portal = users.portal
    phone = world.portal[0]["phone"]
    client = Client()
    page = client.get(reverse("portal:login")).content.decode()
    assert portal.csrf_token(page)
    sent = client.post(reverse("portal:login"), {"phone": phone.removeprefix("+86")}, follow=True)
    assert sent.redirect_chain[-1][0] == reverse("portal:login_code")
    with connection.cursor() as cursor:
        code = portal.latest_login_code(cursor, phone)
    assert code and len(code) == 6
    done = client.post(reverse("portal:login_code"), {"code": code})
    assert done.status_code == 302 and done["Location"] == reverse("portal:home")
    for name in ("portal:points", "portal:coupons", "portal:appointments", "portal:home"):
        assert client.get(reverse(name)).status_code == 200

    query = {"service": world.cleaning.pk, "branch": world.branch.pk, "day": "2026-12-08"}
    slots = portal.slot_keys(client.get(reverse("portal:book"), query).content.decode())
    assert slots
    booked = client.post(reverse("portal:book"), portal.booking_form(**query, slot=slots[0]))
    assert booked.status_code == 302 and booked["Location"] == reverse("portal:appointments")
    ahead = portal.cancellable(client.get(reverse("portal:appointments")).content.decode())
    appt = Appointment.objects.get(member__phone=phone)
    assert ahead == [appt.pk]
    client.post(reverse("portal:appointment_cancel", args=[appt.pk]))
    appt.refresh_from_db()
    assert appt.status == Status.CANCELLED


def test_a_second_code_request_within_the_minute_is_still_refused(world):
    """The load settings raise only the per-IP cap; the per-phone limits hold."""
    phone = world.portal[1]["phone"].removeprefix("+86")
    first = Client().post(reverse("portal:login"), {"phone": phone})
    assert first.status_code == 302
    again = Client().post(reverse("portal:login"), {"phone": phone})
    assert again.status_code == 200 and again.context["form"].errors["phone"]


def test_the_front_desk_visit_books_checks_in_and_checks_out_with_coupon_and_points(users, world, front_desk):
    from appointments.models import Status, Visit
    from loyalty.coupon_models import Coupon
    from loyalty.models import PointsAccount
    from loyalty.services.ledger_jobs import ledger_drift_rows

    lf = users.locustfile
    desk = login(front_desk)
    me = world.desk[0]
    html = desk.get(
        reverse("appointments:slots"),
        {"doctor": world.doctor.pk, "service": world.cleaning.pk, "date": "2026-12-07"},
    ).content.decode()
    starts = lf.slot_starts(html)
    assert starts and starts[0] == "2026-12-07T09:00"
    booked = desk.post(
        reverse("appointments:book"),
        lf.booking_form(
            member=me["member"], service=world.cleaning.pk, doctor=world.doctor.pk, start=starts[0]
        ),
    )
    assert booked.status_code == 302
    appt = lf._APPOINTMENT.match(booked["Location"])
    assert appt
    pk = int(appt.group(1))
    desk.post(f"/appointments/{pk}/check-in/")
    started = desk.post(f"/appointments/{pk}/start/")
    visit = lf._VISIT.match(started["Location"])
    assert visit
    url = f"/appointments/visits/{visit.group(1)}/"
    for item in (world.scan.pk, world.cleaning.pk):
        assert desk.post(url, lf.charge_line_form(item)).status_code == 302
    redeemed = desk.post(
        reverse("loyalty:reward_redeem", args=[me["member"]]), {"item": world.reward.pk, "quantity": "1"}
    )
    assert redeemed.status_code == 302 and "/rewards/" in redeemed["Location"]
    page = desk.get(url, {"coupons": me["coupon"]}).content.decode()
    assert 'data-testid="coupon-error"' not in page
    key, amount = lf.checkout_fields(page)
    assert key and amount
    paid = desk.post(f"{url}checkout/", lf.checkout_form(key=key, amount=amount, coupon=me["coupon"]))
    assert paid.status_code == 302 and paid["Location"].endswith("/receipt/")
    v = Visit.objects.get(pk=int(visit.group(1)))
    kinds = set(v.discounts.values_list("kind", flat=True))
    assert {"entitlement", "coupon"} <= kinds and v.appointment.status == Status.COMPLETED
    assert Coupon.objects.get(code=me["coupon"]).used_source == f"visit:{v.pk}"
    balance = PointsAccount.objects.get(member_id=me["member"]).balance
    assert balance == world.load.MEMBER_POINTS - world.reward.points_cost + v.points_earned
    assert ledger_drift_rows() == []
