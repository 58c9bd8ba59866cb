"""Walk-ins: the doctor on shift with the fewest patients today, then round-robin."""

from __future__ import annotations

import pytest

from appointments import services
from appointments.errors import AppointmentError
from appointments.models import Channel, Status
from tests.members.factories import make_member

from .factories import at, book, make_doctor

pytestmark = pytest.mark.django_db


def walk_in(front_desk, branch, service, name, **kw):
    return services.walk_in_register(
        actor=front_desk,
        branch=branch,
        service=service,
        member=make_member(branch, name=name),
        now=at(0, 9, 2),
        **kw,
    )


def test_walk_in_goes_to_the_doctor_with_fewest_patients(
    doc, doc2, branch, member, service, front_desk, clock
):
    book(front_desk, branch, member, service, doc, at(0, 15))
    appt = walk_in(front_desk, branch, service, "散客一")
    assert appt.doctor == doc2
    assert (appt.status, appt.channel) == (Status.ARRIVED, Channel.WALK_IN)
    assert appt.start == at(0, 9, 15)


def test_ties_go_round_robin(doc, doc2, branch, service, front_desk, clock):
    first = walk_in(front_desk, branch, service, "散客一")
    second = walk_in(front_desk, branch, service, "散客二")
    third = walk_in(front_desk, branch, service, "散客三")
    assert first.doctor != second.doctor
    assert third.doctor == first.doctor


def test_only_doctors_on_shift_now_are_candidates(doc, branch, service, front_desk, clock):
    evening = make_doctor(branch, "doc_wang", "王医生", shifts=((18, 21),))
    assert evening not in services.walk_in_candidates(branch, now=at(0, 9, 2))
    assert doc in services.walk_in_candidates(branch, now=at(0, 9, 2))


def test_manual_override_of_the_doctor(doc, doc2, branch, member, service, front_desk, clock):
    book(front_desk, branch, member, service, doc, at(0, 15))
    appt = walk_in(front_desk, branch, service, "散客一", doctor=doc)
    assert appt.doctor == doc


def test_nobody_on_shift(branch, service, front_desk, clock):
    with pytest.raises(AppointmentError):
        walk_in(front_desk, branch, service, "散客一")


def test_a_walk_in_lead_by_name_and_phone(doc, branch, service, front_desk, clock):
    appt = services.walk_in_register(
        actor=front_desk,
        branch=branch,
        service=service,
        lead_name="路人甲",
        lead_phone="13700001234",
        now=at(0, 9, 2),
    )
    assert appt.member.stage == "lead"
