"""Shared steps of the consultation tests: log, book, arrive, pay, void — each through the
services, with the after-commit signals run."""

from __future__ import annotations

from decimal import Decimal

from appointments import checkout
from appointments import services as appt_services
from marketing import consultations
from tests.appointments.factories import at


def log(actor, branch, channel, member=None, **kwargs):
    return consultations.consultation_log(
        actor=actor, branch=branch, channel=channel, member=member, **kwargs
    )


def book_from(actor, consultation, branch, service, doctor, start=None):
    return consultations.consultation_book(
        actor=actor,
        consultation=consultation,
        branch=branch,
        service=service,
        doctor=doctor,
        start=start or at(1, 10),
        channel="phone",
    )


def arrive(actor, appt, capture):
    with capture(execute=True):
        return appt_services.appointment_check_in(actor=actor, appointment=appt)


def pay(actor, appt, service, capture, key="k1"):
    appt = appt_services.appointment_start_treatment(actor=actor, appointment=appt)
    visit = appt.visit
    checkout.charge_line_add(actor=actor, visit=visit, item=service)
    _lines, result = checkout.quote(visit=visit)
    with capture(execute=True):
        return checkout.visit_checkout(
            actor=actor,
            visit=visit,
            payments=[("wechat_pay", Decimal(result.amount_due))],
            checkout_key=key,
        )


def void(actor, visit, capture):
    with capture(execute=True):
        return checkout.visit_void(actor=actor, visit=visit, reason="收错了")
