"""No double booking under concurrent requests: the exclusion constraints decide.

First the race the constraint exists for: every thread passes the friendly pre-check (none of
them sees the others' uncommitted rows), then exactly one insert wins in the database.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from appointments.errors import AppointmentError
from appointments.models import Appointment
from tests.members.factories import make_member

from .factories import at, book, make_chair, make_doctor

N = 8


def race(fn, args_list):
    barrier = threading.Barrier(len(args_list))
    results: list[str] = []
    lock = threading.Lock()

    def worker(args):
        try:
            barrier.wait()
            fn(*args)
            outcome = "ok"
        except AppointmentError as exc:
            outcome = exc.code
        except Exception as exc:  # anything else would be a 500
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(a,)) for a in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_n_concurrent_bookings_of_one_doctor_slot_succeeds(
    branch, doc, service, front_desk, clock
):
    people = [make_member(branch, name=f"并发{i}") for i in range(N)]
    results = race(lambda m: book(front_desk, branch, m, service, doc, at(0, 10)), [(m,) for m in people])
    assert sorted(results) == ["clash"] * (N - 1) + ["ok"], results
    assert Appointment.objects.filter(doctor=doc).count() == 1


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_n_concurrent_bookings_of_one_chair_succeeds(branch, service, front_desk, clock):
    # Different doctors, one chair: before the advisory locks, the inserts deadlocked on the
    # chair's exclusion constraint, the retries deadlocked again, and now and then a booking
    # ended in an OperationalError (a 500) instead of the clash.
    chair = make_chair(branch)
    doctors = [make_doctor(branch, f"doc{i}", f"医生{i}") for i in range(N)]
    people = [make_member(branch, name=f"并发{i}") for i in range(N)]
    results = race(
        lambda m, d: book(front_desk, branch, m, service, d, at(0, 10), chair=chair),
        list(zip(people, doctors, strict=True)),
    )
    assert sorted(results) == ["clash"] * (N - 1) + ["ok"], results
    assert Appointment.objects.filter(chair=chair).count() == 1


ADVISORY_LOCKS = (
    "SELECT classid::int, objid::int FROM pg_locks "
    "WHERE locktype = 'advisory' AND pid = pg_backend_pid() ORDER BY classid"
)


@pytest.mark.django_db(transaction=True)
def test_a_booking_holds_its_doctor_and_chair_until_commit(branch, doc, service, front_desk, clock):
    """Why concurrent bookings of one chair no longer deadlock: each one holds its doctor and
    its chair (always in that order) until its transaction ends, so the next one waits and
    then meets the committed row as an ordinary clash."""
    from django.db import transaction

    chair = make_chair(branch)
    with transaction.atomic():
        appt = book(front_desk, branch, make_member(branch, name="锁"), service, doc, at(0, 10), chair=chair)
        with connection.cursor() as cursor:
            cursor.execute(ADVISORY_LOCKS)
            held = cursor.fetchall()
    assert held == [(7301, appt.doctor_id), (7302, chair.pk)]
    with connection.cursor() as cursor:
        cursor.execute(ADVISORY_LOCKS)
        assert cursor.fetchall() == []


@pytest.mark.django_db(transaction=True)
def test_a_double_submitted_checkout_charges_once(branch, doc, service, front_desk, clock):
    from decimal import Decimal

    from appointments import checkout, services
    from appointments.models import Payment

    appt = book(front_desk, branch, make_member(branch, name="双击"), service, doc, at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    visit = services.appointment_start_treatment(actor=front_desk, appointment=appt).visit
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    results = race(
        lambda: checkout.visit_checkout(
            actor=front_desk, visit=visit, payments=[("cash", Decimal("280"))], checkout_key="same-form"
        ),
        [(), (), ()],
    )
    assert results == ["ok", "ok", "ok"], results
    assert Payment.objects.filter(visit=visit).count() == 1
