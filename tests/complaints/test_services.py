"""Complaint services: intake, every transition with its audit row, the SLA clocks in working
days, pauses, medical review, visibility, and bad input that leaves nothing half-saved."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from clinic.models import AuditLog, Role
from complaints import selectors, services
from complaints.errors import ComplaintError
from complaints.models import Attachment, Complaint, ComplaintEvent, SlaPolicy, Status

from .helpers import FRIDAY, SH, png, receive, walk_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


def test_intake_sets_working_day_clocks(clock, customer_service, branch, person):
    c = receive(customer_service, branch, person)
    assert c.status == Status.RECEIVED and c.number.startswith("TS250926")
    # Ack: end of Sunday 09-28 (a 调休 working day); proposal: end of 09-30.
    assert c.ack_due_at == dt.datetime(2025, 9, 29, tzinfo=SH)
    assert c.proposal_due_at == dt.datetime(2025, 10, 1, tzinfo=SH)
    assert AuditLog.objects.filter(action="complaints.complaint.received", target_id=str(c.pk)).exists()
    assert c.assignee == customer_service


def test_clocks_follow_the_severity_policy(clock, customer_service, branch, person):
    SlaPolicy.objects.filter(severity="serious").update(ack_working_days=2, proposal_working_days=4)
    c = receive(customer_service, branch, person, severity="serious")
    assert c.ack_due_at == dt.datetime(2025, 9, 30, tzinfo=SH)
    assert c.proposal_due_at == dt.datetime(2025, 10, 10, tzinfo=SH)  # 国庆 skipped: end of 10-09


def test_anonymous_contact(clock, customer_service, branch):
    c = receive(customer_service, branch, None, contact_name="匿名女士", contact_phone="13912345678")
    assert c.member is None and c.contact_phone == "+8613912345678"


def test_every_transition_writes_its_audit_row_and_history(clock, customer_service, branch, person):
    c = receive(customer_service, branch, person)
    c = walk_to(customer_service, c, "proposed")
    c = services.complaint_reject(actor=customer_service, complaint=c, reason="客户要求退款")
    assert c.status == Status.INVESTIGATING
    c = services.complaint_propose(actor=customer_service, complaint=c, resolution="退还部分费用")
    c = walk_to(customer_service, c, "closed")
    assert c.status == Status.CLOSED and c.satisfaction == 4 and c.root_cause == "process"
    actions = set(AuditLog.objects.filter(target_id=str(c.pk)).values_list("action", flat=True))
    assert {
        "complaints.complaint.received",
        "complaints.complaint.acknowledged",
        "complaints.complaint.investigating",
        "complaints.complaint.proposed",
        "complaints.complaint.rejected",
        "complaints.complaint.accepted",
        "complaints.complaint.resolved",
        "complaints.complaint.closed",
    } <= actions
    c = services.complaint_reopen(actor=customer_service, complaint=c, reason="客户再次来电")
    assert c.status == Status.INVESTIGATING and c.reopen_count == 1 and c.closed_at is None
    transitions = list(c.events.filter(kind="transition").values_list("from_status", "to_status"))
    assert transitions[0] == ("", "received") and transitions[-1] == ("closed", "investigating")


def test_transition_out_of_order_is_refused(clock, customer_service, branch, person):
    c = receive(customer_service, branch, person)
    with pytest.raises(ComplaintError) as err:
        services.complaint_propose(actor=customer_service, complaint=c, resolution="x")
    assert err.value.code == "state"
    with pytest.raises(ComplaintError):
        services.complaint_reopen(actor=customer_service, complaint=c, reason="x")
    with pytest.raises(ComplaintError):
        services.complaint_reject(
            actor=customer_service, complaint=walk_to(customer_service, c, "proposed"), reason=""
        )


def test_close_needs_satisfaction_and_root_cause(clock, customer_service, branch, person):
    c = walk_to(customer_service, receive(customer_service, branch, person), "resolved")
    with pytest.raises(ComplaintError) as err:
        services.complaint_close(
            actor=customer_service, complaint=c, satisfaction=0, root_cause="process", corrective_action="x"
        )
    assert err.value.field == "satisfaction"
    with pytest.raises(ComplaintError):
        services.complaint_close(
            actor=customer_service, complaint=c, satisfaction=3, root_cause="", corrective_action="x"
        )
    with pytest.raises(ComplaintError):
        services.complaint_close(
            actor=customer_service, complaint=c, satisfaction=3, root_cause="process", corrective_action=" "
        )
    assert Complaint.objects.get(pk=c.pk).status == Status.RESOLVED


def test_roles_that_may_not_work(clock, customer_service, front_desk, branch, person):
    with pytest.raises(ComplaintError):
        receive(front_desk, branch, person)
    c = receive(customer_service, branch, person)
    with pytest.raises(ComplaintError):
        services.complaint_acknowledge(actor=front_desk, complaint=c)


def test_pause_moves_the_deadlines_by_the_working_days_waited(clock, customer_service, branch, person):
    c = receive(customer_service, branch, person)
    services.complaint_pause(actor=customer_service, complaint=c, reason="等客户提供发票照片")
    with pytest.raises(ComplaintError):
        services.complaint_pause(actor=customer_service, complaint=c, reason="again")
    clock.move_to(dt.datetime(2025, 9, 29, 15, 0, tzinfo=SH))  # Monday: 2 working days (28, 29)
    pause = services.complaint_resume(actor=customer_service, complaint=c, note="客户已发来")
    assert pause.working_days == 2
    c.refresh_from_db()
    assert c.paused_at is None
    assert c.ack_due_at == dt.datetime(2025, 10, 1, tzinfo=SH)  # end of 09-30
    assert c.proposal_due_at == dt.datetime(2025, 10, 11, tzinfo=SH)  # end of 10-10
    kinds = list(c.events.values_list("kind", flat=True))
    assert "pause" in kinds and "resume" in kinds


def test_medical_dispute_needs_a_doctor_review_before_the_proposal(
    clock, customer_service, doctor, staff_factory, branch, person, hq
):
    c = receive(customer_service, branch, person, severity="medical", category="outcome", staff=doctor)
    assert c.medical_review_required
    assert c.escalations.filter(level="medical").exists()  # HQ at once
    c = walk_to(customer_service, c, "investigating")
    with pytest.raises(ComplaintError) as err:
        services.complaint_propose(actor=customer_service, complaint=c, resolution="x")
    assert err.value.code == "review"
    with pytest.raises(ComplaintError):  # the doctor complained about may not review
        services.complaint_request_review(actor=customer_service, complaint=c, reviewer=doctor)
    reviewer = staff_factory(Role.DOCTOR, username="senior")
    services.complaint_request_review(actor=customer_service, complaint=c, reviewer=reviewer)
    assert selectors.complaints_for_user(reviewer).filter(pk=c.pk).exists()
    assert not selectors.complaints_for_user(doctor).filter(pk=c.pk).exists()
    with pytest.raises(ComplaintError):
        services.complaint_review_record(actor=customer_service, complaint=c, finding="no_error", note="x")
    services.complaint_review_record(actor=reviewer, complaint=c, finding="no_error", note="根管治疗符合规范")
    c = services.complaint_propose(actor=customer_service, complaint=c, resolution="免费复查")
    assert c.status == Status.PROPOSED


def test_visibility(clock, customer_service, manager, staff_factory, branch, other_branch, person, outsider):
    nurse = staff_factory(Role.CUSTOMER_SERVICE, username="cs2")
    c = receive(customer_service, branch, person, staff=nurse, category="attitude")
    assert selectors.complaints_for_user(manager).filter(pk=c.pk).exists()
    assert not selectors.complaints_for_user(nurse).filter(pk=c.pk).exists()  # about them
    assert not selectors.complaints_for_user(outsider).filter(pk=c.pk).exists()
    with pytest.raises(ComplaintError):
        services.complaint_assign(actor=customer_service, complaint=c, assignee=nurse)


# --- bad input -----------------------------------------------------------------------------


def _nothing_saved():
    return (
        not Complaint.objects.exists()
        and not Attachment.objects.exists()
        and not ComplaintEvent.objects.exists()
    )


def test_missing_contact_is_refused_with_a_clear_message(clock, customer_service, branch):
    with pytest.raises(ComplaintError) as err:
        receive(customer_service, branch, None, contact_name="王先生")
    assert err.value.field == "contact_phone"
    assert "phone" in str(err.value.message) or "电话" in str(err.value.message)
    assert _nothing_saved()


def test_a_50_mb_attachment_is_refused_and_nothing_saved(clock, customer_service, branch, person):
    big = SimpleUploadedFile("scan.pdf", b"%PDF" + b"0" * (50 * 1024 * 1024), content_type="application/pdf")
    with pytest.raises(ComplaintError) as err:
        receive(customer_service, branch, person, attachments=[png(), big])
    assert err.value.field == "attachments" and "10" in str(err.value.message)
    assert _nothing_saved()


def test_an_exe_is_refused(clock, customer_service, branch, person):
    exe = SimpleUploadedFile("invoice.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    with pytest.raises(ComplaintError):
        receive(customer_service, branch, person, attachments=[exe])
    disguised = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00", content_type="image/jpeg")
    with pytest.raises(ComplaintError):
        receive(customer_service, branch, person, attachments=[disguised])
    assert _nothing_saved()


def test_attachments_are_stored(clock, customer_service, branch, person):
    c = receive(customer_service, branch, person, attachments=[png()])
    att = c.attachments.get()
    assert att.content_type == "image/png" and att.size == len(png().read())
    assert att.file.name.startswith("complaints/2025/09/")
