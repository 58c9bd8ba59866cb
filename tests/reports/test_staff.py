"""Staff performance: each person's figures at the branch (doctors, customer service, front
desk), a manager sees everyone, anyone else only themselves; frozen into a closed month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Visit
from followups.models import Task, TaskAttempt
from reports import dashboard, month_close, staff
from tests.appointments.factories import make_doctor
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def month_of_work(branch, other_branch, front_desk, customer_service):
    first = timezone.localdate().replace(day=1)
    lo = dashboard._shift_month(first, -1)
    doctor = make_doctor(branch, "perf_doc")
    when = timezone.make_aware(dt.datetime.combine(lo + dt.timedelta(days=2), dt.time(10)))
    people = []
    for i in range(3):
        m = make_member(branch, name=f"业绩{i}", phone=f"+8613600{i:06d}")
        m.created_by = front_desk
        m.created_at = when
        m.save(update_fields=["created_by", "created_at"])
        people.append(m)
    for i, m in enumerate(people[:2]):
        Visit.objects.create(
            branch=branch,
            member=m,
            doctor=doctor,
            opened_at=when,
            status="checked_out",
            amount_due=Decimal(200),
            amount_paid=Decimal(200),
            checked_out_at=when + dt.timedelta(days=i),
        )
    # people[0] comes back within the return window: one of two patients returned.
    Visit.objects.create(
        branch=branch,
        member=people[0],
        doctor=doctor,
        opened_at=when + dt.timedelta(days=5),
        status="checked_out",
        amount_due=Decimal(100),
        amount_paid=Decimal(100),
        checked_out_at=when + dt.timedelta(days=5),
    )
    due = lo + dt.timedelta(days=4)
    for i, (status, closed) in enumerate(
        (("done", due), ("done", due + dt.timedelta(days=3)), ("open", None))
    ):
        t = Task.objects.create(
            kind="followup",
            member=people[i],
            branch=branch,
            title="术后回访",
            due_on=due,
            assignee=customer_service,
            status=status,
            source_key=f"perf-{i}",
            closed_at=timezone.make_aware(dt.datetime.combine(closed, dt.time(15))) if closed else None,
        )
        TaskAttempt.objects.create(
            task=t,
            actor=customer_service,
            at=when,
            outcome="reached" if i < 2 else "not_reached",
            satisfaction=5 if i == 0 else (3 if i == 1 else None),
        )
    return {"lo": lo, "hi": first, "doctor": doctor}


def _section(sections, code):
    return next(s for s in sections if s.code == code)


def test_figures_per_person(branch, front_desk, customer_service, month_of_work):
    sections = staff.performance(branch, month_of_work["lo"], month_of_work["hi"])
    doc = _section(sections, "doctors").rows[0]
    assert doc["user_id"] == month_of_work["doctor"].pk
    assert (doc["patients"], doc["visits"], doc["revenue"]) == (2, 3, Decimal(500))
    assert doc["return_rate"] == Decimal("0.5000")
    cs = _section(sections, "service").rows[0]
    assert cs["user_id"] == customer_service.pk
    assert (cs["tasks_due"], cs["on_time"], cs["on_time_rate"]) == (3, 1, Decimal("0.3333"))
    assert (cs["attempts"], cs["reach_rate"], cs["call_satisfaction"]) == (3, Decimal("0.6667"), Decimal(4))
    fd = _section(sections, "front_desk").rows[0]
    assert (fd["user_id"], fd["registrations"]) == (front_desk.pk, 3)


def test_a_manager_sees_everyone_and_staff_only_themselves(
    branch, manager, front_desk, customer_service, client_for, month_of_work
):
    page = client_for(manager).get(reverse("reports:staff") + "?period=last_month").content.decode()
    assert "员工业绩" in page
    assert (
        f"staff-row-service-{customer_service.pk}" in page and f"staff-row-front_desk-{front_desk.pk}" in page
    )
    own = client_for(front_desk).get(reverse("reports:staff") + "?period=last_month").content.decode()
    assert "我的业绩" in own and f"staff-row-front_desk-{front_desk.pk}" in own
    assert f"staff-row-service-{customer_service.pk}" not in own
    assert client_for(front_desk).get(reverse("reports:staff_export", args=["xlsx"])).status_code == 403
    response = client_for(manager).get(reverse("reports:staff_export", args=["xlsx"]) + "?period=last_month")
    assert response.status_code == 200
    assert client_for(manager).get(reverse("reports:staff") + "?period=bogus").status_code == 200


def test_the_closed_month_keeps_staff_figures(branch, manager, month_of_work):
    close = month_close.month_close(actor=manager, branch=branch, month=month_of_work["lo"])
    frozen = staff.load(close.staff)
    assert _section(frozen, "doctors").rows[0]["revenue"] == Decimal(500)
    Visit.objects.filter(branch=branch).update(status="voided", voided_at=timezone.now())
    close.refresh_from_db()
    assert _section(staff.load(close.staff), "doctors").rows[0]["revenue"] == Decimal(500)


def test_complaints_count_for_the_doctor_named_or_who_treated_the_visit(branch, month_of_work):
    from complaints.models import Complaint

    doctor = month_of_work["doctor"]
    visit = Visit.objects.filter(doctor=doctor).order_by("pk").first()
    when = visit.checked_out_at + dt.timedelta(days=1)
    base = {
        "branch": branch,
        "channel": "phone",
        "received_at": when,
        "subject": "等候太久",
        "description": "…",
        "category": "waiting",
        "member": visit.member,
        "ack_due_at": when,
        "proposal_due_at": when,
    }
    Complaint.objects.create(**base, visit=visit)  # about their visit
    Complaint.objects.create(**base, staff=doctor)  # naming them
    other = make_doctor(branch, "perf_doc2")
    Complaint.objects.create(**base, visit=visit, staff=other)  # names another doctor: theirs
    Complaint.objects.create(**{**base, "received_at": when - dt.timedelta(days=60)}, staff=doctor)  # earlier
    sections = staff.performance(branch, month_of_work["lo"], month_of_work["hi"])
    rows = {r["user_id"]: r for r in _section(sections, "doctors").rows}
    assert rows[doctor.pk]["complaints"] == 2
