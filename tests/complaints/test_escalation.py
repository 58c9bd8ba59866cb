"""The 15-minute escalation sweep with time frozen: overdue acknowledgement → the branch
manager; overdue proposal → manager and HQ; a medical dispute → HQ at once; each level once,
recorded on the complaint and sent through the outbox; paused complaints wait."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from clinic.notifications.models import Outbox
from complaints import services, tasks
from complaints.models import Escalation

from .helpers import FRIDAY, SH, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


def levels(c):
    return list(Escalation.objects.filter(complaint=c).order_by("id").values_list("level", flat=True))


def test_sweep_escalates_each_level_once_at_the_right_time(clock, customer_service, boss, hq, branch, person):
    c = receive(customer_service, branch, person)
    clock.move_to(dt.datetime(2025, 9, 28, 23, 59, tzinfo=SH))  # the make-up Sunday, still in time
    assert services.complaints_escalate_overdue() == {"ack_overdue": 0, "proposal_overdue": 0, "medical": 0}
    clock.move_to(dt.datetime(2025, 9, 29, 0, 0, tzinfo=SH))
    assert services.complaints_escalate_overdue()["ack_overdue"] == 1
    assert services.complaints_escalate_overdue()["ack_overdue"] == 0  # once
    assert levels(c) == ["ack_overdue"]
    esc = Escalation.objects.get(complaint=c)
    assert esc.notified == [boss.pk]
    assert (
        Outbox.objects.filter(template_key="complaints.escalated", recipient="boss@example.cn").count() == 1
    )
    assert c.events.filter(kind="escalated").count() == 1
    # 国庆: the proposal was due at the end of 09-30.
    clock.move_to(dt.datetime(2025, 10, 1, 0, 15, tzinfo=SH))
    tasks.escalate.apply()
    assert levels(c) == ["ack_overdue", "proposal_overdue"]
    assert set(Escalation.objects.get(complaint=c, level="proposal_overdue").notified) == {boss.pk, hq.pk}
    assert Outbox.objects.filter(template_key="complaints.escalated").count() == 3


def test_acknowledged_in_time_is_not_escalated(clock, customer_service, boss, branch, person):
    c = receive(customer_service, branch, person)
    services.complaint_acknowledge(actor=customer_service, complaint=c)
    clock.move_to(dt.datetime(2025, 9, 29, 9, 0, tzinfo=SH))
    assert services.complaints_escalate_overdue()["ack_overdue"] == 0


def test_paused_complaints_wait(clock, customer_service, boss, branch, person):
    c = receive(customer_service, branch, person)
    services.complaint_pause(actor=customer_service, complaint=c, reason="等客户回电")
    clock.move_to(dt.datetime(2025, 10, 9, 9, 0, tzinfo=SH))
    assert services.complaints_escalate_overdue() == {"ack_overdue": 0, "proposal_overdue": 0, "medical": 0}


def test_medical_dispute_goes_to_hq_at_once_and_never_to_the_doctor(
    clock, customer_service, doctor, hq, boss, branch, person
):
    c = receive(customer_service, branch, person, severity="medical", category="outcome", staff=doctor)
    esc = Escalation.objects.get(complaint=c)
    assert esc.level == "medical" and esc.notified == [hq.pk]
    assert services.complaints_escalate_overdue()["medical"] == 0
    assert services.complaint_escalate(complaint=c, level="medical") is None


def test_complaint_about_the_manager_is_not_sent_to_them(clock, customer_service, boss, hq, branch, person):
    c = receive(customer_service, branch, person, staff=boss, category="attitude")
    clock.move_to(dt.datetime(2025, 9, 29, 0, 0, tzinfo=SH))
    services.complaints_escalate_overdue()
    assert Escalation.objects.get(complaint=c).notified == []
