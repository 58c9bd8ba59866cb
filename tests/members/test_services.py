from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from clinic.models import AuditLog
from members import services
from members.errors import MemberError
from members.idnumbers import IdNumberError, mask_id_number, normalize_id_number
from members.models import (
    CommunicationLog,
    Consent,
    ConsentKind,
    FamilyLink,
    Member,
    MemberStatus,
    Relation,
    Stage,
)
from members.registry import MERGE_FIELDS, unregistered_member_foreign_keys

from .factories import TagFactory, channel, make_id_number, make_member

pytestmark = pytest.mark.django_db


def audit_actions(member) -> list[str]:
    return list(
        AuditLog.objects.filter(target_id=str(member.pk)).order_by("id").values_list("action", flat=True)
    )


# --- validation ----------------------------------------------------------------------------


def test_id_number_checksum():
    good = make_id_number("19900307", 123)
    assert normalize_id_number(good.lower()) == good
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(IdNumberError):
        normalize_id_number(bad)
    with pytest.raises(IdNumberError):
        normalize_id_number("11010119901301123X")  # month 13
    with pytest.raises(IdNumberError):
        normalize_id_number("12345")
    assert normalize_id_number("11010519491231002X") == "11010519491231002X"  # the GB 11643 sample
    assert mask_id_number(good) == good[:3] + "*" * 11 + good[-4:]


def test_register_validates_phone_id_and_dates(branch, front_desk):
    with pytest.raises(MemberError) as exc:
        services.member_register(actor=front_desk, branch=branch, name="王五", phone="12345")
    assert exc.value.field == "phone"
    with pytest.raises(MemberError) as exc:
        services.member_register(actor=front_desk, branch=branch, name="王五", id_number="110105194912310021")
    assert exc.value.field == "id_number"
    with pytest.raises(MemberError) as exc:
        services.member_register(
            actor=front_desk,
            branch=branch,
            name="王五",
            birth_date=timezone.localdate() + dt.timedelta(days=1),
        )
    assert exc.value.field == "birth_date"
    with pytest.raises(MemberError) as exc:
        services.member_register(actor=front_desk, branch=branch, name="  ")
    assert exc.value.field == "name"


def test_register_normalises_and_derives(branch, front_desk):
    id_number = make_id_number("19850612", 124)  # even: a woman
    m = services.member_register(
        actor=front_desk,
        branch=branch,
        name=" 曾 小贤 ",
        phone="+86 139-1234-5678",
        id_number=id_number,
        channel=channel("抖音"),
        tags=[TagFactory(name="VIP")],
    )
    m.refresh_from_db()
    assert m.name == "曾 小贤" and m.phone == "+8613912345678"
    assert m.birth_date == dt.date(1985, 6, 12) and m.gender == "F"
    assert m.pinyin_full == "zengxiaoxian" and m.pinyin_initials == "zxx"
    assert m.phone_last4 == "5678" and m.phone_digits == "13912345678"
    assert m.id_number == id_number and m.id_number_masked.endswith(id_number[-4:])
    assert [t.name for t in m.tags.all()] == ["VIP"]
    assert audit_actions(m) == ["members.member.registered"]
    row = AuditLog.objects.get(target_id=str(m.pk))
    assert "5678" in row.changes["phone"] and "1234" not in row.changes["phone"]


def test_id_number_and_medical_notes_are_encrypted_at_rest(branch, front_desk, doctor):
    id_number = make_id_number()
    m = make_member(branch, id_number=id_number)
    services.member_medical_update(
        actor=doctor,
        member=m,
        allergies="青霉素过敏",
        conditions=["diabetes"],
        dental_history="2019 年根管治疗",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, allergies, conditions, dental_history, id_number_hash FROM members_member WHERE id=%s",
            [m.pk],
        )
        raw = cursor.fetchone()
    assert id_number not in raw[0] and "青霉素" not in raw[1] and "diabetes" not in raw[2]
    assert raw[0].startswith("gAAAA")  # a Fernet token
    m.refresh_from_db()
    assert m.allergies == "青霉素过敏" and m.condition_labels() == ["糖尿病"] and m.has_medical_alerts
    # The audit row says what changed, never the medical content.
    row = AuditLog.objects.filter(action="members.medical.changed").get()
    assert "青霉素" not in str(row.changes)


def test_same_id_number_is_always_refused(branch, front_desk):
    id_number = make_id_number()
    make_member(branch, name="李雷", id_number=id_number)
    with pytest.raises(MemberError) as exc:
        services.member_register(
            actor=front_desk, branch=branch, name="李 雷", id_number=id_number, allow_duplicate=True
        )
    assert exc.value.code == "duplicate"


def test_same_phone_similar_name_warns_but_family_may_share_a_phone(branch, front_desk):
    make_member(branch, name="韩梅梅", phone="13912340001")
    with pytest.raises(MemberError) as exc:
        services.member_register(actor=front_desk, branch=branch, name="韩梅梅", phone="139 1234 0001")
    assert exc.value.code == "duplicate" and "韩梅梅" in exc.value.message
    # Overridden on purpose, it registers (and the audit says so).
    twin = services.member_register(
        actor=front_desk, branch=branch, name="韩梅梅", phone="13912340001", allow_duplicate=True
    )
    assert AuditLog.objects.get(target_id=str(twin.pk)).changes["duplicate_warning_overridden"] is True
    # A child sharing the parent's phone is no duplicate.
    child = services.member_register(actor=front_desk, branch=branch, name="李小明", phone="13912340001")
    assert child.pk


def test_update_audits_changes_and_masks_the_id_number(branch, front_desk):
    m = make_member(branch, name="王芳")
    id_number = make_id_number("19920202", 222)
    services.member_update(actor=front_desk, member=m, name="王 芳芳", id_number=id_number, occupation="教师")
    m.refresh_from_db()
    assert m.pinyin_initials == "wff" and m.birth_date == dt.date(1992, 2, 2)
    row = AuditLog.objects.filter(action="members.member.changed").get()
    assert id_number not in str(row.changes) and row.changes["occupation"] == ["", "教师"]


def test_stage_never_moves_backwards(branch, front_desk):
    m = make_member(branch, stage=Stage.MEMBER)
    with pytest.raises(MemberError):
        services.member_update(actor=front_desk, member=m, stage=Stage.LEAD)
    lead = make_member(branch, name="赵六", stage=Stage.LEAD)
    services.member_stage_advance(actor=None, member=lead, stage=Stage.MEMBER, card_no="m0001")
    lead.refresh_from_db()
    assert lead.stage == Stage.MEMBER and lead.card_no == "M0001"


# --- reveal ------------------------------------------------------------------------------


def test_reveal_is_audited_and_needs_the_permission(branch, front_desk, doctor, manager):
    id_number = make_id_number()
    m = make_member(branch, phone="13912345678", id_number=id_number)
    assert services.member_reveal(actor=front_desk, member=m, field="phone") == "13912345678"
    assert audit_actions(m)[-1] == "members.member.phone_revealed"
    with pytest.raises(MemberError):
        services.member_reveal(actor=doctor, member=m, field="phone")
    with pytest.raises(MemberError):
        services.member_reveal(actor=front_desk, member=m, field="id_number")
    assert services.member_reveal(actor=manager, member=m, field="id_number") == id_number
    assert audit_actions(m)[-1] == "members.member.id_number_revealed"
    with pytest.raises(MemberError):
        services.member_reveal(actor=manager, member=m, field="allergies")


# --- consents, family, communications ---------------------------------------------------


def test_consent_grant_and_immediate_withdrawal(branch, front_desk):
    m = make_member(branch)
    consent = services.consent_grant(
        actor=front_desk, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper"
    )
    assert consent.granted_by == front_desk and consent.granted_at
    with pytest.raises(MemberError):
        services.consent_grant(actor=front_desk, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper")
    services.consent_withdraw(actor=front_desk, consent=consent)
    assert not Consent.objects.filter(member=m, withdrawn_at__isnull=True).exists()
    # A new grant is a new row: the history stays whole.
    services.consent_grant(actor=front_desk, member=m, kind=ConsentKind.MARKETING_SMS, channel="wechat")
    assert Consent.objects.filter(member=m).count() == 2
    assert audit_actions(m)[-3:] == [
        "members.consent.granted",
        "members.consent.withdrawn",
        "members.consent.granted",
    ]


def test_child_under_14_needs_a_guardian_consent_first(branch, front_desk):
    today = timezone.localdate()
    child = make_member(branch, name="小宝", birth_date=today.replace(year=today.year - 8))
    mother = make_member(branch, name="王丽", birth_date=dt.date(1988, 1, 1))
    with pytest.raises(MemberError):
        services.consent_grant(
            actor=front_desk, member=child, kind=ConsentKind.MARKETING_SMS, channel="paper"
        )
    with pytest.raises(MemberError):  # not linked yet
        services.consent_grant(
            actor=front_desk, member=child, kind=ConsentKind.GUARDIAN, channel="paper", guardian=mother
        )
    services.family_link_add(
        actor=front_desk, member=child, relative=mother, relation=Relation.PARENT, is_guardian=True
    )
    assert FamilyLink.objects.get(member=mother, relative=child).relation == Relation.CHILD
    services.consent_grant(
        actor=front_desk, member=child, kind=ConsentKind.GUARDIAN, channel="paper", guardian=mother
    )
    services.consent_grant(actor=front_desk, member=child, kind=ConsentKind.MARKETING_SMS, channel="paper")
    with pytest.raises(MemberError):  # a minor cannot be a guardian
        services.family_link_add(
            actor=front_desk, member=mother, relative=child, relation=Relation.CHILD, is_guardian=True
        )


def test_communication_log(branch, front_desk):
    m = make_member(branch)
    services.communication_log_add(
        actor=front_desk, member=m, channel="phone", direction="out", summary="确认明天 10 点洁牙"
    )
    with pytest.raises(MemberError):
        services.communication_log_add(
            actor=front_desk, member=m, channel="phone", direction="out", summary=" "
        )
    assert m.communications.get().staff == front_desk


# --- merge -------------------------------------------------------------------------------


def test_every_foreign_key_to_member_is_registered_for_merge():
    assert unregistered_member_foreign_keys() == []
    assert ("members.communicationlog", "member") in MERGE_FIELDS


def test_merge_moves_everything_and_keeps_a_tombstone(branch, other_branch, front_desk, manager):
    keep = make_member(branch, name="陈静", phone="13911110000", tags=[TagFactory(name="老客户")])
    dup = make_member(
        other_branch,
        name="陈静",
        phone="13911110000",
        id_number=make_id_number("19900101", 124),
        tags=[TagFactory(name="种植意向")],
        notes="旧系统导入",
    )
    services.member_stage_advance(actor=None, member=dup, stage=Stage.MEMBER, card_no="C100")
    services.consent_grant(actor=front_desk, member=dup, kind=ConsentKind.MARKETING_SMS, channel="paper")
    services.consent_grant(actor=front_desk, member=keep, kind=ConsentKind.MARKETING_SMS, channel="paper")
    services.consent_grant(actor=front_desk, member=dup, kind=ConsentKind.DATA_SHARING, channel="paper")
    services.communication_log_add(
        actor=front_desk, member=dup, channel="phone", direction="in", summary="咨询种植"
    )
    relative = make_member(branch, name="陈父", birth_date=dt.date(1960, 1, 1))
    services.family_link_add(actor=front_desk, member=dup, relative=relative, relation=Relation.PARENT)
    services.family_link_add(actor=front_desk, member=dup, relative=keep, relation=Relation.OTHER)
    services.member_medical_update(
        actor=manager, member=dup, allergies="青霉素", conditions=[], dental_history=""
    )
    before = {
        "consents": Consent.objects.count(),
        "comms": CommunicationLog.objects.count(),
    }

    moved = services.member_merge(actor=manager, source=dup, target=keep)

    keep.refresh_from_db()
    dup.refresh_from_db()
    assert dup.status == MemberStatus.MERGED and dup.merged_into == keep
    assert (
        Consent.objects.count() == before["consents"] and CommunicationLog.objects.count() == before["comms"]
    )
    assert (
        Consent.objects.filter(member=dup).count() == 0
        and CommunicationLog.objects.filter(member=dup).count() == 0
    )
    assert Consent.objects.filter(member=keep, withdrawn_at__isnull=True).count() == 2
    assert FamilyLink.objects.filter(member=keep, relative=relative).exists()
    assert not FamilyLink.objects.filter(member=keep, relative=keep).exists()
    assert (
        not FamilyLink.objects.filter(relative=dup).exists()
        and not FamilyLink.objects.filter(member=dup).exists()
    )
    assert keep.card_no == "C100" and keep.stage == Stage.MEMBER and keep.id_number == dup.id_number
    assert "旧系统导入" in keep.notes and keep.allergies == "青霉素" and keep.has_medical_alerts
    assert {t.name for t in keep.tags.all()} == {"老客户", "种植意向"}
    assert keep.served_branches.filter(pk=other_branch.pk).exists()
    assert moved["members.communicationlog.member"] == 1
    row = AuditLog.objects.get(action="members.member.merged")
    assert row.changes["source"] == dup.pk and "members.consent.member" in row.changes["moved"]
    with pytest.raises(MemberError):
        services.member_merge(actor=manager, source=dup, target=keep)


# --- erase / restrict ----------------------------------------------------------------------


def test_erase_without_medical_records_blanks_personal_data(branch, front_desk, manager):
    m = make_member(branch, name="周杰", phone="13955556666", id_number=make_id_number(), address="上海")
    services.communication_log_add(actor=front_desk, member=m, channel="phone", direction="in", summary="x")
    services.consent_grant(actor=front_desk, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper")
    with pytest.raises(MemberError):
        services.member_erase(actor=manager, member=m, reason="")
    assert services.member_erase(actor=manager, member=m, reason="本人书面申请") == "erased"
    m.refresh_from_db()
    assert m.status == MemberStatus.ERASED and m.phone == "" and m.id_number == "" and m.address == ""
    assert "周杰" not in m.name and m.id_number_hash == "" and m.pinyin_full == ""
    assert not m.communications.exists()
    assert not Consent.objects.filter(member=m, withdrawn_at__isnull=True).exists()
    assert AuditLog.objects.filter(action="members.member.erased", target_id=str(m.pk)).exists()


def test_erase_with_medical_records_restricts_instead(branch, manager):
    m = make_member(branch, name="吴敏", phone="13955557777")
    Member.objects.filter(pk=m.pk).update(last_visit_at=timezone.now() - dt.timedelta(days=400))
    m.refresh_from_db()
    assert services.retention_reason(m) is not None
    assert services.member_erase(actor=manager, member=m, reason="本人电话申请") == "restricted"
    m.refresh_from_db()
    assert m.status == MemberStatus.RESTRICTED and m.phone and m.marketing_opt_out
    with pytest.raises(MemberError):
        services.member_update(actor=manager, member=m, occupation="x")
    with pytest.raises(MemberError):
        services.member_reveal(actor=manager, member=m, field="phone")
    old = make_member(branch, name="郑老")
    Member.objects.filter(pk=old.pk).update(last_visit_at=timezone.now() - dt.timedelta(days=366 * 16))
    old.refresh_from_db()
    assert services.member_erase(actor=manager, member=old, reason="申请") == "erased"


def test_field_history_is_recorded_for_every_write(branch, front_desk):
    from django.apps import apps

    event = apps.get_model("members", "MemberEvent")
    m = make_member(branch, name="许巍")
    services.member_update(actor=front_desk, member=m, occupation="歌手")
    Member.objects.filter(pk=m.pk).update(notes="bulk")  # even a bulk update
    labels = list(
        event.objects.filter(pgh_obj_id=m.pk).order_by("pgh_id").values_list("pgh_label", "occupation")
    )
    assert [label for label, _ in labels] == ["insert", "update", "update"]
    assert labels[1][1] == "歌手"
