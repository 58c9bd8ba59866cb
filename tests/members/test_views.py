from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditLog
from members import services
from members.models import Consent, ConsentKind, Member, MemberStatus, Relation

from .factories import make_id_number, make_member


def national(e164: str) -> str:
    return e164.removeprefix("+86")


pytestmark = pytest.mark.django_db


@pytest.fixture
def person(branch, front_desk):
    m = make_member(branch, name="张三", phone="13812345678", id_number=make_id_number())
    services.communication_log_add(
        actor=front_desk, member=m, channel="phone", direction="in", summary="咨询洁牙价格"
    )
    return m


@pytest.fixture
def nobody(db):
    return get_user_model().objects.create_user("nobody", password="x-Pass-12345")


def url(name, *args):
    return reverse(f"members:{name}", args=args)


# --- permission matrix ----------------------------------------------------------------------

MEMBER_VIEWS_GET = ["detail", "edit", "erase", "merge", "duplicates"]
MEMBER_VIEWS_POST = [
    ("edit", {"name": "x"}),
    ("medical", {"allergies": "x"}),
    ("consent_add", {"kind": "marketing_sms", "channel": "paper"}),
    ("communication_add", {"channel": "phone", "direction": "in", "summary": "x"}),
    ("family_add", {"relative": 1, "relation": "parent"}),
    ("opt_out", {"opt_out": "1"}),
    ("reveal", {}),
    ("erase", {"reason": "x", "confirm": "on"}),
    ("merge", {}),
]


def member_url(name, member, other=None):
    if name == "merge":
        return url(name, member.pk, (other or member).pk)
    if name == "reveal":
        return url(name, member.pk, "phone")
    if name == "data_export":
        return url(name, member.pk, "json")
    return url(name, member.pk)


@pytest.mark.parametrize("name", [*MEMBER_VIEWS_GET, "data_export"])
def test_outsider_gets_404_for_every_member_page(name, person, outsider, client_for):
    assert client_for(outsider).get(member_url(name, person)).status_code == 404


@pytest.mark.parametrize(("name", "data"), MEMBER_VIEWS_POST)
def test_outsider_gets_404_for_every_member_action(name, data, person, outsider, client_for):
    assert client_for(outsider).post(member_url(name, person), data).status_code == 404


@pytest.mark.parametrize(("name", "data"), MEMBER_VIEWS_POST)
def test_read_only_role_cannot_post(name, data, person, marketer, client_for):
    """市场 may look people up but not change them."""
    response = client_for(marketer).post(member_url(name, person), data)
    assert response.status_code == 403, name
    assert Member.objects.get(pk=person.pk).name == "张三"


@pytest.mark.parametrize("name", ["list", "search", "create", "export", "import"])
def test_login_without_role_is_refused(name, nobody, client_for):
    assert client_for(nobody).get(url(name)).status_code == 403


def test_wrong_role_is_refused(person, front_desk, doctor, marketer, client_for):
    fd = client_for(front_desk)
    assert fd.get(url("erase", person.pk)).status_code == 403
    assert fd.get(url("data_export", person.pk, "json")).status_code == 403
    assert fd.get(member_url("merge", person)).status_code == 403
    assert fd.get(url("duplicates", person.pk)).status_code == 403
    assert url("duplicates", person.pk) not in fd.get(url("detail", person.pk)).content.decode()
    assert fd.get(url("import")).status_code == 403
    assert fd.get(url("export")).status_code == 403
    assert client_for(doctor).get(url("create")).status_code == 403
    assert client_for(doctor).post(url("reveal", person.pk, "phone")).status_code == 403
    assert client_for(front_desk).post(url("reveal", person.pk, "id_number")).status_code == 403
    assert client_for(front_desk).post(url("medical", person.pk), {"allergies": "x"}).status_code == 403
    assert client_for(marketer).post(url("create"), {"name": "x"}).status_code == 403


def test_anonymous_is_sent_to_login(person, client):
    response = client.get(url("detail", person.pk))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_views_refuse_wrong_methods(person, front_desk, client_for):
    c = client_for(front_desk)
    assert c.get(url("reveal", person.pk, "phone")).status_code == 405
    assert c.post(url("detail", person.pk)).status_code == 405
    assert c.post(url("search")).status_code == 405


# --- list, search, profile ----------------------------------------------------------------


def test_list_is_scoped_masked_and_query_capped(
    branch, other_branch, front_desk, hq_admin, client_for, django_assert_max_num_queries
):
    for i in range(40):
        make_member(branch, name=f"客户{i}", phone=f"1390000{i:04d}")
    make_member(other_branch, name="浦东客户", phone="13700000000")
    client = client_for(front_desk)
    # Session, user, permissions, branches and profile (8), then the page itself; the same
    # however many people are listed.
    with django_assert_max_num_queries(16):
        html = client.get(url("list")).content.decode()
    assert "客户39" in html and "浦东客户" not in html
    assert "139****0039" in html and "13900000039" not in html
    assert "浦东客户" in client_for(hq_admin).get(url("list")).content.decode()


def test_navbar_search_box_and_live_results(person, front_desk, client_for):
    client = client_for(front_desk)
    home = client.get(reverse("home")).content.decode()
    assert 'id="member-search-q"' in home and 'hx-get="/members/search/"' in home
    response = client.get(url("search"), {"q": "5678"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and "张三" in body and "138****5678" in body and "13812345678" not in body
    full = client.get(url("search"), {"q": "zs"}).content.decode()
    assert "<html" in full and "张三" in full


def test_search_finds_other_branch_and_receive_opens_it(person, outsider, client_for):
    client = client_for(outsider)
    browse = client.get(url("search"), {"q": "5678"}, HTTP_HX_REQUEST="true").content.decode()
    assert "张三" in browse and url("receive", person.pk) not in browse  # last four: a browse
    body = client.get(url("search"), {"q": "138 1234 5678"}, HTTP_HX_REQUEST="true").content.decode()
    assert "张三" in body and url("receive", person.pk) in body and 'name="q"' in body
    assert f'href="{url("detail", person.pk)}"' not in body
    assert client.get(url("detail", person.pk)).status_code == 404
    response = client.post(url("receive", person.pk), {"q": "13812345678"})
    assert response.status_code == 302
    assert client.get(url("detail", person.pk)).status_code == 200
    here = AuditLog.objects.get(action="members.member.received_at_branch")
    home = AuditLog.objects.get(action="members.member.received_by_other_branch")
    assert here.branch.code == "PD" and home.branch.code == "JA"  # the home manager sees it
    assert here.changes["found_by"] == "phone_full"


def test_receive_needs_an_exact_finding_not_a_counted_id(person, outsider, client_for):
    client = client_for(outsider)
    for q in ("", "张三", "5678", "zs", "13812345679"):
        response = client.post(url("receive", person.pk), {"q": q})
        assert response.status_code == 302 and response["Location"] == url("list")
    assert client.get(url("detail", person.pk)).status_code == 404
    assert not AuditLog.objects.filter(action="members.member.received_at_branch").exists()


def test_receive_is_limited_per_user_per_hour(branch, outsider, client_for, settings):
    settings.MEMBERS_RECEIVE_PER_HOUR = 2
    people = [make_member(branch, name=f"客人{i}", phone=f"1390000000{i}") for i in range(3)]
    client = client_for(outsider)
    for p in people:
        client.post(url("receive", p.pk), {"q": national(p.phone)})
    assert AuditLog.objects.filter(action="members.member.received_at_branch").count() == 2
    assert client.get(url("detail", people[2].pk)).status_code == 404


def test_profile_for_front_desk(person, front_desk, client_for, django_assert_max_num_queries):
    client = client_for(front_desk)
    # 17: the session and user (4), branches (2), the person and what the timeline shares (3),
    # one query per timeline source of the apps above (stored value, appointments,
    # consultations, kept recalls).
    with django_assert_max_num_queries(17):
        html = client.get(url("detail", person.pk)).content.decode()
    assert "张三" in html and "138****5678" in html and "13812345678" not in html
    assert person.id_number not in html and 'data-testid="reveal-phone"' in html
    assert 'data-testid="reveal-id"' not in html
    assert "咨询洁牙价格" in html  # the timeline
    for tab in ["details", "communications", "consents", "family"]:
        assert client.get(url("detail", person.pk), {"tab": tab}).status_code == 200


def test_reveal_returns_the_value_and_audits(person, front_desk, manager, client_for):
    response = client_for(front_desk).post(url("reveal", person.pk, "phone"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "13812345678" in response.content.decode()
    row = AuditLog.objects.get(action="members.member.phone_revealed")
    assert row.actor == front_desk and row.target_id == str(person.pk)
    response = client_for(manager).post(url("reveal", person.pk, "id_number"))
    assert person.id_number in response.content.decode()
    assert client_for(manager).post(url("reveal", person.pk, "notes")).status_code == 409


def test_medical_alerts_by_role(person, doctor, front_desk, client_for):
    services.member_medical_update(
        actor=doctor, member=person, allergies="青霉素", conditions=["heart"], dental_history=""
    )
    doc = client_for(doctor).get(url("detail", person.pk)).content.decode()
    assert 'data-testid="medical-banner"' in doc and "青霉素" in doc
    assert AuditLog.objects.filter(action="members.medical.viewed", actor=doctor).exists()
    desk = client_for(front_desk).get(url("detail", person.pk)).content.decode()
    assert "青霉素" not in desk and 'data-testid="medical-flag"' in desk
    assert client_for(front_desk).get(url("detail", person.pk), {"tab": "medical"}).status_code == 200
    assert (
        "青霉素"
        not in client_for(front_desk).get(url("detail", person.pk), {"tab": "medical"}).content.decode()
    )
    response = client_for(doctor).post(
        url("medical", person.pk), {"allergies": "磺胺", "conditions": ["diabetes"]}
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.allergies == "磺胺" and person.conditions == "diabetes"


# --- register and edit ----------------------------------------------------------------------


def test_register_flow_with_duplicate_warning(person, front_desk, client_for):
    client = client_for(front_desk)
    assert client.get(url("create")).status_code == 200
    response = client.post(url("create"), {"name": "李四", "phone": "139 0000 1111", "stage": "lead"})
    assert response.status_code == 302
    created = Member.objects.get(name="李四")
    assert response["Location"] == url("detail", created.pk) and created.phone == "+8613900001111"
    assert created.created_by == front_desk and created.branch.code == "JA"
    bad = client.post(url("create"), {"name": "王五", "phone": "123", "stage": "lead"})
    assert bad.status_code == 200 and Member.objects.filter(name="王五").count() == 0
    assert "invalid-feedback" in bad.content.decode()
    dup = client.post(url("create"), {"name": "张三", "phone": "13812345678", "stage": "lead"})
    assert dup.status_code == 200 and 'name="allow_duplicate"' in dup.content.decode()
    ok = client.post(
        url("create"), {"name": "张三", "phone": "13812345678", "stage": "lead", "allow_duplicate": "on"}
    )
    assert ok.status_code == 302 and Member.objects.filter(name="张三").count() == 2


def test_edit(person, front_desk, client_for):
    client = client_for(front_desk)
    page = client.get(url("edit", person.pk)).content.decode()
    # Neither the phone nor the ID number goes to the browser in full: masked placeholders.
    assert "13812345678" not in page and "138****5678" in page and person.id_number not in page
    response = client.post(
        url("edit", person.pk), {"name": "张三", "stage": "patient", "occupation": "工程师"}
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.occupation == "工程师" and person.phone == "+8613812345678" and person.id_number
    client.post(url("edit", person.pk), {"name": "张三", "phone": "13900002222", "stage": "patient"})
    person.refresh_from_db()
    assert person.phone == "+8613900002222"
    back = client.post(url("edit", person.pk), {"name": "张三", "stage": "lead"})
    assert back.status_code == 200 and "invalid-feedback" in back.content.decode()


def test_consent_family_and_communication_actions(branch, person, front_desk, client_for):
    client = client_for(front_desk)
    assert (
        client.post(url("consent_add", person.pk), {"kind": "marketing_sms", "channel": "paper"}).status_code
        == 302
    )
    consent = Consent.objects.get(member=person)
    assert client.post(url("consent_withdraw", person.pk, consent.pk)).status_code == 302
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    mother = make_member(branch, name="王丽", birth_date=dt.date(1970, 1, 1))
    response = client.post(url("family_add", person.pk), {"relative": mother.pk, "relation": Relation.PARENT})
    assert response.status_code == 302 and person.family_links.get().relative == mother
    response = client.post(
        url("communication_add", person.pk),
        {"channel": "wechat", "direction": "out", "summary": "发送术后须知"},
    )
    assert response.status_code == 302 and person.communications.filter(summary="发送术后须知").exists()
    assert client.post(url("opt_out", person.pk), {"opt_out": "1"}).status_code == 302
    person.refresh_from_db()
    assert person.marketing_opt_out


def test_family_link_to_a_person_outside_scope_is_404(person, other_branch, front_desk, client_for):
    stranger = make_member(other_branch, name="外店客户")
    response = client_for(front_desk).post(
        url("family_add", person.pk), {"relative": stranger.pk, "relation": "spouse"}
    )
    assert response.status_code == 404


# --- merge, erase, person export -------------------------------------------------------------


def test_merge_view(branch, person, manager, client_for):
    dup = make_member(branch, name="张三", phone="13812345678")
    services.consent_grant(actor=manager, member=dup, kind=ConsentKind.MARKETING_SMS, channel="paper")
    client = client_for(manager)
    assert url("duplicates", person.pk) in client.get(url("detail", person.pk)).content.decode()
    panel = client.get(url("duplicates", person.pk), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="duplicates"' in panel and url("merge", person.pk, dup.pk) in panel
    assert client.get(url("merge", person.pk, dup.pk)).status_code == 200
    assert client.post(url("merge", person.pk, dup.pk)).status_code == 302
    dup.refresh_from_db()
    assert dup.status == MemberStatus.MERGED and Consent.objects.get().member == person
    assert client.get(url("detail", dup.pk)).status_code == 404


def test_erase_view_explains_and_restricts(person, manager, client_for):
    Member.objects.filter(pk=person.pk).update(last_visit_at=timezone.now() - dt.timedelta(days=30))
    client = client_for(manager)
    page = client.get(url("erase", person.pk)).content.decode()
    assert 'data-testid="erase-explanation"' in page and "15" in page
    assert client.post(url("erase", person.pk), {"reason": ""}).status_code == 200
    response = client.post(url("erase", person.pk), {"reason": "本人书面申请", "confirm": "on"})
    assert response.status_code == 302
    html = client.get(url("detail", person.pk)).content.decode()
    assert 'data-testid="restricted-notice"' in html and 'data-testid="reveal-phone"' not in html


def test_erase_view_erases(person, manager, client_for):
    response = client_for(manager).post(url("erase", person.pk), {"reason": "本人书面申请", "confirm": "on"})
    assert response.status_code == 302 and response["Location"] == url("list")
    person.refresh_from_db()
    assert person.status == MemberStatus.ERASED and person.phone == ""


def test_person_data_export_json_and_xlsx(person, manager, client_for):
    client = client_for(manager)
    data = client.get(url("data_export", person.pk, "json")).json()
    assert (
        data["profile"]["phone"] == "13812345678" and data["communications"][0]["summary"] == "咨询洁牙价格"
    )
    response = client.get(url("data_export", person.pk, "xlsx"))
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert AuditLog.objects.filter(action="members.member.data_exported").count() == 2
    assert client.get(url("data_export", person.pk, "pdf")).status_code == 404


def _with_medical_perm(user):
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        Permission.objects.get(codename="view_medical", content_type__app_label="clinic")
    )
    return type(user).objects.get(pk=user.pk)


def test_person_data_export_leaves_medical_out_without_view_medical(person, manager, doctor, client_for):
    services.member_medical_update(
        actor=doctor, member=person, allergies="青霉素", conditions=["diabetes"], dental_history="种植 36"
    )
    data = client_for(manager).get(url("data_export", person.pk, "json")).json()
    assert "allergies" not in data["medical"] and "青霉素" not in str(data)
    assert set(data["medical"]) == {"omitted"}
    audit = AuditLog.objects.filter(action="members.member.data_exported").latest("id")
    assert audit.changes["medical"] is False

    clinical = _with_medical_perm(manager)
    data = client_for(clinical).get(url("data_export", person.pk, "json")).json()
    assert data["medical"]["allergies"] == "青霉素" and data["medical"]["dental_history"] == "种植 36"


def test_person_data_xlsx_is_translated_and_in_the_clinic_zone(person, manager, client_for):
    import io

    from django.utils import timezone
    from openpyxl import load_workbook

    response = client_for(manager).get(url("data_export", person.pk, "xlsx"))
    wb = load_workbook(io.BytesIO(response.content))
    # members' own sheets first, then each app's part (members.privacy contributors)
    assert wb.sheetnames[:5] == ["基本信息", "病史与过敏", "同意书", "家庭", "沟通记录"]
    assert "预约" in wb.sheetnames and "积分流水" in wb.sheetnames
    profile = {row[0]: row[1] for row in wb["基本信息"].iter_rows(values_only=True)}
    assert profile["姓名"] == "张三"
    local = timezone.localtime(person.created_at).replace(tzinfo=None)
    assert abs(profile["建档时间"] - local) < dt.timedelta(seconds=1)  # Shanghai, not UTC
    comms = list(wb["沟通记录"].iter_rows(values_only=True))
    assert comms[0][0] == "时间" and "kind" not in str(comms)


def test_registering_a_shared_phone_says_who_else_uses_it(person, other_branch, front_desk, client_for):
    from django.contrib.messages import get_messages

    make_member(other_branch, name="欧阳娜娜", phone="13812345678")
    client = client_for(front_desk)
    response = client.post(url("create"), {"name": "李小明", "phone": "13812345678", "stage": "lead"})
    assert response.status_code == 302 and Member.objects.filter(name="李小明").exists()
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "张三" in text  # this branch's record: the user may open it
    assert "欧***" in text and "欧阳娜娜" not in text  # the other branch's: masked


def test_a_landline_is_accepted_as_such(front_desk, client_for):
    from django.contrib.messages import get_messages

    response = client_for(front_desk).post(
        url("create"), {"name": "王家", "phone": "021-6288 1234", "stage": "lead"}
    )
    assert response.status_code == 302
    assert Member.objects.get(name="王家").phone == "+862162881234"
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "固定电话" in text or "landline" in text
