"""A person's data under PIPL: the full copy from every app's contributor (medical part only
for the person or clinical staff), deletion requests with a 15-working-day deadline, and the
staff queue that marks them handled."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from clinic.models import AuditLog
from clinic.workdays import deadline_after
from members import privacy
from members.actors import member_actor
from members.errors import MemberError
from members.models import PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus
from members.services import member_medical_update
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(branch):
    return make_member(branch, name="张三", phone="13812345678")


def test_every_app_that_holds_people_contributes():
    labels = {c.app_label for c in privacy.contributors()}
    assert {"members", "loyalty", "appointments", "marketing", "followups", "complaints"} <= labels
    assert privacy.check_contributors() == []


def test_the_copy_has_every_section_and_medical_only_when_asked(person, doctor):
    member_medical_update(actor=doctor, member=person, allergies="青霉素", conditions=[], dental_history="")
    person.refresh_from_db()
    data = json.loads(privacy.export_json(person, medical=True))
    for key in (
        "profile",
        "medical",
        "consents",
        "membership",
        "points",
        "coupons",
        "appointments",
        "visits",
        "events",
        "surveys",
        "complaints",
        "privacy_requests",
    ):
        assert key in data, key
    assert data["medical"]["allergies"] == "青霉素" and data["medical_included"] is True
    without = json.loads(privacy.export_json(person, medical=False))
    assert "青霉素" not in json.dumps(without, ensure_ascii=False)


def test_the_workbook_is_translated(person):
    wb = load_workbook(io.BytesIO(privacy.export_xlsx(person, medical=True)))
    assert wb.sheetnames[0] == "基本信息" and "预约" in wb.sheetnames
    header = next(wb["预约"].iter_rows(values_only=True))
    assert "开始" in " ".join(str(h) for h in header) and "start" not in header


def test_a_download_is_recorded_as_a_handled_export_request(person):
    req = privacy.privacy_export_record(actor=member_actor(person), member=person, fmt="json")
    assert (req.kind, req.status) == (PrivacyRequestKind.EXPORT, PrivacyRequestStatus.HANDLED)
    row = AuditLog.objects.get(action="members.member.data_exported")
    assert row.actor is None and row.changes["channel"] == "h5"
    with pytest.raises(MemberError):
        privacy.privacy_export_record(actor=member_actor(person), member=person, fmt="pdf")


def test_a_deletion_request_gets_a_15_working_day_deadline_once(person):
    req = privacy.privacy_erasure_request(actor=member_actor(person), member=person, reason="不再就诊")
    assert req.deadline == deadline_after(req.requested_at, 15, branch=person.branch)
    assert AuditLog.objects.filter(action="members.privacy.requested").count() == 1
    with pytest.raises(MemberError) as exc:
        privacy.privacy_erasure_request(actor=member_actor(person), member=person)
    assert exc.value.code == "open"
    other = make_member(person.branch, name="李四", phone="13900002222")
    with pytest.raises(MemberError):
        privacy.privacy_erasure_request(actor=member_actor(other), member=person)


def test_the_queue_is_for_managers_of_the_branch_and_handling_is_audited(
    person, manager, front_desk, client_for, other_branch
):
    req = privacy.privacy_erasure_request(actor=member_actor(person), member=person)
    assert client_for(front_desk).get(reverse("members:privacy_queue")).status_code == 403
    client = client_for(manager)
    page = client.get(reverse("members:privacy_queue"))
    assert page.status_code == 200 and "张三" in page.content.decode()
    url = reverse("members:privacy_handle", args=[req.pk])
    assert client_for(front_desk).post(url, {"note": "x"}).status_code == 403
    client.post(url, {"note": ""})
    req.refresh_from_db()
    assert req.status == PrivacyRequestStatus.RECEIVED  # a note is required
    client.post(url, {"note": "已删除个人信息"})
    req.refresh_from_db()
    assert req.status == PrivacyRequestStatus.HANDLED and req.handled_by == manager
    assert AuditLog.objects.filter(action="members.privacy.handled").count() == 1
    with pytest.raises(MemberError):
        privacy.privacy_request_handle(actor=manager, request=req, note="again")


def test_another_branch_manager_does_not_see_the_request(person, client_for, other_branch):
    from clinic.models import Role
    from tests.conftest import make_staff

    req = privacy.privacy_erasure_request(actor=member_actor(person), member=person)
    outsider = make_staff(Role.BRANCH_MANAGER, [other_branch], username="mgr_other")
    client = client_for(outsider)
    assert "张三" not in client.get(reverse("members:privacy_queue")).content.decode()
    assert client.post(reverse("members:privacy_handle", args=[req.pk]), {"note": "x"}).status_code == 404
    assert PrivacyRequest.objects.get(pk=req.pk).status == PrivacyRequestStatus.RECEIVED
