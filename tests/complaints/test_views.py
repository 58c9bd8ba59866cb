"""The complaint pages: intake (with a bad file and a missing contact: a clear message and
nothing saved), the list with time left and its query count, actions per state, the
attachment behind the scope check, the analysis; refusals for outsiders and read-only roles."""

from __future__ import annotations

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from complaints.models import Attachment, Complaint

from .helpers import FRIDAY, png, receive, walk_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


def intake_data(branch, **kw):
    data = {
        "branch": branch.pk,
        "channel": "phone",
        "subject": "候诊太久",
        "description": "等了一个小时",
        "expectation": "道歉",
        "severity": "normal",
        "category": "waiting",
    }
    data.update(kw)
    return data


def test_intake_creates_the_complaint(clock, client_for, customer_service, branch, person):
    client = client_for(customer_service)
    assert client.get("/complaints/new/").status_code == 200
    response = client.post(
        "/complaints/new/", {**intake_data(branch, member_phone=person.phone), "attachments": [png()]}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    c = Complaint.objects.get()
    assert c.member == person and c.attachments.count() == 1


def test_intake_bad_input_shows_a_message_and_saves_nothing(clock, client_for, customer_service, branch):
    client = client_for(customer_service)
    response = client.post("/complaints/new/", intake_data(branch, contact_name="王先生"))
    assert response.status_code == 200
    assert "请选择已建档客户，或填写联系人姓名和电话" in response.content.decode()
    exe = SimpleUploadedFile("x.exe", b"MZ", content_type="application/octet-stream")
    response = client.post(
        "/complaints/new/",
        {**intake_data(branch, contact_name="王先生", contact_phone="13912345678"), "attachments": [exe]},
    )
    assert response.status_code == 200 and "不是可接受的照片或文件" in response.content.decode()
    response = client.post("/complaints/new/", intake_data(branch, member_phone="13900000000"))
    assert "没有客户使用这个手机号或卡号" in response.content.decode()
    assert not Complaint.objects.exists() and not Attachment.objects.exists()


def test_list_shows_time_left_and_caps_queries(
    clock, client_for, customer_service, branch, person, django_assert_max_num_queries
):
    for _ in range(5):
        receive(customer_service, branch, person)
    client = client_for(customer_service)
    with django_assert_max_num_queries(20):
        response = client.get("/complaints/")
    html = response.content.decode()
    assert response.status_code == 200 and html.count('data-testid="complaint-row"') == 5
    assert "剩余" in html


def test_actions_follow_the_state_and_refuse_read_only_roles(
    clock, client_for, customer_service, doctor, front_desk, branch, person
):
    c = receive(customer_service, branch, person)
    client = client_for(customer_service)
    page = client.get(f"/complaints/{c.pk}/").content.decode()
    assert 'data-testid="action-acknowledge"' in page and 'data-testid="action-propose"' not in page
    assert client.post(f"/complaints/{c.pk}/acknowledge/", {"text": "已致电"}).status_code == 302
    c.refresh_from_db()
    assert c.status == "acknowledged"
    # Out of order: a clear message, nothing changes.
    response = client.post(f"/complaints/{c.pk}/propose/", {"text": "x"}, follow=True)
    assert "不能转为" in response.content.decode()
    assert client_for(front_desk).post(f"/complaints/{c.pk}/investigate/").status_code in (403, 404)
    assert client_for(doctor).get(f"/complaints/{c.pk}/").status_code == 404


def test_outsider_and_staff_complained_about_get_404(
    clock, client_for, customer_service, outsider, staff_factory, branch, person
):
    from clinic.models import Role

    other_cs = staff_factory(Role.CUSTOMER_SERVICE, username="cs_about")
    c = receive(customer_service, branch, person, staff=other_cs, attachments=[png()])
    att = c.attachments.get()
    assert client_for(outsider).get(f"/complaints/{c.pk}/").status_code == 404
    assert client_for(other_cs).get(f"/complaints/{c.pk}/").status_code == 404
    assert client_for(other_cs).get(f"/complaints/attachments/{att.pk}/").status_code == 404
    assert 'data-testid="complaint-row"' not in client_for(other_cs).get("/complaints/").content.decode()
    response = client_for(customer_service).get(f"/complaints/attachments/{att.pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"


def test_analysis(clock, client_for, customer_service, manager, branch, person):
    c = walk_to(customer_service, receive(customer_service, branch, person), "closed")
    receive(customer_service, branch, person, category="billing")
    response = client_for(manager).get("/complaints/analysis/")
    html = response.content.decode()
    assert response.status_code == 200 and "候诊时间" in html and "重复投诉客户" in html
    assert c.status == "closed"
    assert client_for(customer_service).get("/complaints/analysis/").status_code == 403
