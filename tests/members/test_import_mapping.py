"""The import's mapping step (unknown headers and old tier names matched by the user, saved
per source system and applied next time), the 推荐人 and 首次就诊日期 columns, and the ledger's
invariants after a set-based commit."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditLog
from clinic.roles import Role
from loyalty.coupon_models import Referral, ReferralStatus
from loyalty.models import Membership, PointsAccount, PointsEntry, PointsLot
from loyalty.services import ledger_drift_rows
from members import importer
from members.models import ImportJob, ImportProfile, Member

from .factories import make_member

pytestmark = pytest.mark.django_db

# An old system that names its columns its own way (客户名称, 联系电话, 客户级别, 积分) and its
# tiers too (白金VIP, 普卡).
OLD_A = "\n".join(
    [
        "客户名称,联系电话,客户级别,可用积分,档案编号",
        "周一,13811110001,白金VIP,100,X-1",
        "吴二,13811110002,普卡,20,X-2",
        "郑三,13811110003,金卡,5,X-3",
    ]
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def programme():
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)


def upload(text: str, name="old-a.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("gb18030"))


def mapping_post(job: ImportJob, source: str, headers: dict[str, str], values: dict[str, str]) -> dict:
    """The mapping form's POST body: header text → field, old value → our value."""
    info = importer.unmapped(job)
    data = {"source": source}
    for i, h in enumerate(info["headers"]):
        data[f"h{i}"] = headers.get(h["label"], "")
    n = 0
    for _field, found in info["values"].items():
        for value in found:
            data[f"v{n}"] = values.get(value, "")
            n += 1
    return data


def test_unknown_headers_and_tiers_are_mapped_saved_and_reused(branch, manager, client_for):
    client = client_for(manager)
    response = client.post(reverse("members:import"), {"file": upload(OLD_A)})
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.MAPPING and not importer.staging_path(job).exists()
    info = importer.unmapped(job)
    assert [h["label"] for h in info["headers"]] == ["客户名称", "联系电话", "客户级别", "档案编号"]
    assert info["headers"][0]["samples"] == ["周一", "吴二", "郑三"] and info["key_column"] is False
    assert info["values"] == {}  # the tier column is not known yet
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-map"' in page and "待匹配" in page
    url = reverse("members:import_mapping", args=[job.pk])
    form = client.get(url).content.decode()
    assert "客户名称" in form and "忽略此列" in form and "会员等级" in form and "周一、吴二、郑三" in form

    # Round one: the columns (档案编号 ignored). The tier column's values are read next.
    body = mapping_post(
        job, "旧系统A", {"客户名称": "name", "联系电话": "phone", "客户级别": "loyalty.tier"}, {}
    )
    assert client.post(url, body).status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.MAPPING, job.summary
    assert importer.unmapped(job)["values"] == {"loyalty.tier": ["普卡", "白金VIP"]}  # 金卡 is ours already
    form = client.get(url).content.decode()
    assert 'value="旧系统A"' in form and "钻石" in form and "白金VIP" in form
    # Round two: the old tier names.
    response = client.post(url, mapping_post(job, "旧系统A", {}, {"白金VIP": "diamond", "普卡": "basic"}))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW and job.valid_rows == 3, (job.summary, job.errors)
    profile = ImportProfile.objects.get()
    assert profile.name == "旧系统A" and job.profile == profile
    assert profile.headers == {
        "客户名称": "name",
        "联系电话": "phone",
        "客户级别": "loyalty.tier",
        "档案编号": "",
    }
    assert profile.values == {"loyalty.tier": {"白金VIP": "diamond", "普卡": "basic"}}
    audits = AuditLog.objects.filter(action="members.import.mapped")
    assert audits.count() == 2 and {a.changes["source"] for a in audits} == {"旧系统A"}

    importer.import_confirm(actor=manager, job=job)
    tiers = dict(Membership.objects.values_list("member__name", "tier__code"))
    assert tiers == {"周一": "diamond", "吴二": "basic", "郑三": "gold"}

    # The same old system's next file: the saved mapping applies by itself, straight to preview.
    nxt = (
        OLD_A.replace("138111100", "139222200")
        .replace("周一", "钱四")
        .replace("吴二", "孙五")
        .replace("郑三", "李六")
    )
    response = client.post(reverse("members:import"), {"file": upload(nxt, "old-a-2.csv")})
    job2 = ImportJob.objects.exclude(pk=job.pk).get()
    assert job2.status == ImportJob.Status.PREVIEW and job2.profile == profile and job2.valid_rows == 3
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-profile"' in page and "旧系统A" in page
    importer.import_confirm(actor=manager, job=job2)
    assert Membership.objects.get(member__name="钱四").tier.code == "diamond"


def test_a_source_system_chosen_at_upload_maps_values_of_known_headers(branch, manager, client_for):
    ImportProfile.objects.create(name="旧系统B", values={"loyalty.tier": {"黑卡": "diamond"}})
    text = "姓名,手机号,会员等级\n冯七,13833330001,黑卡\n"
    client = client_for(manager)
    client.post(
        reverse("members:import"),
        {"file": upload(text), "source": ImportProfile.objects.get().pk},
    )
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.PREVIEW and job.valid_rows == 1, job.summary
    # Without it, the unknown tier stops the job for mapping (pre-filled from the saved one).
    client.post(reverse("members:import"), {"file": upload(text, "b2.csv")})
    job2 = ImportJob.objects.exclude(pk=job.pk).get()
    assert job2.status == ImportJob.Status.MAPPING
    form = client.get(reverse("members:import_mapping", args=[job2.pk])).content.decode()
    assert 'value="diamond" selected' in form


def test_mapping_refuses_bad_input_in_chinese_and_changes_nothing(branch, manager, client_for):
    client = client_for(manager)
    client.post(reverse("members:import"), {"file": upload(OLD_A)})
    job = ImportJob.objects.get()
    url = reverse("members:import_mapping", args=[job.pk])
    good = {"客户名称": "name", "联系电话": "phone"}
    cases = [
        (mapping_post(job, "旧系统A", {"客户名称": "name", "联系电话": "name"}, {}), "已"),  # one field twice
        (mapping_post(job, "旧系统A", {"档案编号": "loyalty.card_no"}, {}), "姓名"),  # who is a row?
        (mapping_post(job, "旧系统A", {**good, "档案编号": "password"}, {}), "选择"),  # not a field
        (mapping_post(job, "旧\u200b系统", good, {}), "不可见"),  # hidden characters
        (mapping_post(job, "", good, {}), "必填"),
    ]
    for body, words in cases:
        response = client.post(url, body)
        assert response.status_code == 200 and words in response.content.decode(), body
    job.refresh_from_db()
    assert job.status == ImportJob.Status.MAPPING and not ImportProfile.objects.exists()
    assert client.post(url, {"source": "x" * 500, "h0": "\x00"}).status_code in (200, 400)
    # A value no tier has, or none at all.
    client.post(
        reverse("members:import"), {"file": upload("姓名,手机号,会员等级\n冯七,13833330001,黑卡\n", "b.csv")}
    )
    tiers = ImportJob.objects.exclude(pk=job.pk).get()
    url = reverse("members:import_mapping", args=[tiers.pk])
    for value, words in (("platinum", "选择"), ("", "必填")):
        response = client.post(url, {"source": "旧系统B", "v0": value})
        assert response.status_code == 200 and words in response.content.decode()
    tiers.refresh_from_db()
    assert tiers.status == ImportJob.Status.MAPPING and not ImportProfile.objects.exists()


def test_mapping_page_is_scoped(branch, other_branch, manager, front_desk, staff_factory, client_for):
    client_for(manager).post(reverse("members:import"), {"file": upload(OLD_A)})
    job = ImportJob.objects.get()
    url = reverse("members:import_mapping", args=[job.pk])
    other_manager = staff_factory(Role.BRANCH_MANAGER, [other_branch], username="pd_manager")
    assert client_for(other_manager).get(url).status_code == 404
    assert client_for(other_manager).post(url, {"source": "x"}).status_code == 404
    assert client_for(front_desk).get(url).status_code == 403
    assert client_for(front_desk).post(url, {"source": "x"}).status_code == 403
    # A job past the mapping step sends the page back to the job.
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.DONE)
    response = client_for(manager).get(url)
    assert response.status_code == 302 and response["Location"] == reverse(
        "members:import_detail", args=[job.pk]
    )


REFERRALS = "\n".join(
    [
        "姓名,手机号,会员卡号,积分余额,推荐人,首次就诊日期,最近就诊日期",
        "甲,13844440001,C-1,10,,2019-04-02,2026-10-01",
        "乙,13844440002,C-2,10,13844440001,2020.1.5,2026-09-01",  # referred by 甲, in the file
        "丙,13844440003,C-3,10,OLD-9,,",  # by a registered member's card
        "丁,13844440004,C-4,10,13899999999,,",  # nobody has this phone
        "戊,13844440005,C-5,10,13844440005,,",  # themselves
        "己,13844440006,,,,2026-05-01,2025-01-01",  # first visit after the last
    ]
)


def test_referrer_and_visit_dates_are_imported(branch, manager):
    registered = make_member(branch, name="老会员", phone="13700000009")
    Member.objects.filter(pk=registered.pk).update(card_no="OLD-9")
    job = importer.import_job_create(actor=manager, branch=branch, upload=upload(REFERRALS))
    assert job.status == ImportJob.Status.PREVIEW, job.summary
    assert {(e["row"], e["column"]) for e in job.errors} == {(7, "首次就诊日期")}
    notices = {n["row"]: n["message"] for n in job.summary["notices"]}
    assert set(notices) == {5} and "无推荐人" in notices[5] and "138****9999" in notices[5]

    job = importer.import_confirm(actor=manager, job=job)
    assert job.status == ImportJob.Status.DONE and job.imported_rows == 5, job.message
    pairs = dict(Referral.objects.values_list("referee__name", "referrer__name"))
    assert pairs == {"乙": "甲", "丙": "老会员"}  # 戊 cannot refer themselves
    assert set(Referral.objects.values_list("status", flat=True)) == {ReferralStatus.MIGRATED}
    assert not PointsEntry.objects.filter(reason__startswith="referral").exists()
    jia = Member.objects.get(name="甲")
    assert timezone.localtime(jia.first_visit_at).date() == dt.date(2019, 4, 2)
    assert timezone.localtime(jia.last_visit_at).date() == dt.date(2026, 10, 1)
    assert timezone.localtime(Member.objects.get(name="乙").first_visit_at).date() == dt.date(2020, 1, 5)

    # Again: nothing twice, and the ledger's invariants hold.
    again = importer.import_job_create(actor=manager, branch=branch, upload=upload(REFERRALS, "again.csv"))
    importer.import_confirm(actor=manager, job=again)
    assert Referral.objects.count() == 2 and PointsEntry.objects.count() == 5
    assert ledger_drift_rows() == []
    for account in PointsAccount.objects.all():
        lots = sum(PointsLot.objects.filter(account=account).values_list("remaining", flat=True))
        entries = sum(PointsEntry.objects.filter(account=account).values_list("points", flat=True))
        assert account.balance == lots == entries == 10
    assert set(PointsEntry.objects.values_list("balance_after", flat=True)) == {10}


def test_a_registered_person_keeps_their_referrer_and_first_visit(branch, manager):
    from loyalty.referrals import referral_set

    jia = make_member(branch, name="甲", phone="13844440001")
    yi = make_member(branch, name="乙", phone="13844440002")
    other = make_member(branch, name="别人", phone="13855550000")
    referral_set(actor=None, referee=yi, referrer=other)
    at = timezone.make_aware(dt.datetime(2018, 1, 1, 12))
    Member.objects.filter(pk=yi.pk).update(first_visit_at=at)
    job = importer.import_job_create(actor=manager, branch=branch, upload=upload(REFERRALS))
    importer.import_confirm(actor=manager, job=job)
    yi.refresh_from_db()
    assert yi.first_visit_at == at  # filled only where empty
    assert Referral.objects.get(referee=yi).referrer == other  # one referrer per person
    assert Member.objects.filter(name="甲").count() == 1 and jia.pk == Member.objects.get(name="甲").pk


def test_single_reading_names_read_as_pypinyin_does_without_it():
    from pypinyin import Style, lazy_pinyin

    from members import names

    given = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红玲芬燕彬鹏辉斌建国志宏海波鑫浩宇子涵欣怡梓轩雨萱吕绿"
    for a in given:
        for b in given[::3]:
            names._rest.cache_clear()
            assert list(names._rest(a + b)) == lazy_pinyin(a + b, style=Style.NORMAL, v_to_u=False), a + b
    assert names.pinyin_forms("张伟") == ("zhangwei", "zw") and names.pinyin_forms("曾吕") == ("zenglv", "zl")


def test_a_wrong_saved_mapping_is_corrected_by_matching_again(branch, manager, client_for):
    ImportProfile.objects.create(
        name="旧系统A",
        headers={"客户名称": "name", "联系电话": "phone", "客户级别": "loyalty.tier", "档案编号": "notes"},
        values={"loyalty.tier": {"白金VIP": "gold", "普卡": "basic"}},  # 白金VIP should be 钻石
    )
    client = client_for(manager)
    client.post(reverse("members:import"), {"file": upload(OLD_A)})
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.PREVIEW and job.profile.name == "旧系统A"
    assert (
        'data-testid="import-map-again"'
        in client.get(reverse("members:import_detail", args=[job.pk])).content.decode()
    )
    url = reverse("members:import_mapping", args=[job.pk])
    assert client.post(url, {"again": "1"}).status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.MAPPING and len(importer.unmapped(job)["headers"]) == 4
    form = client.get(url).content.decode()
    assert 'value="loyalty.tier" selected' in form  # what was saved is offered
    client.post(
        url,
        mapping_post(
            job, "旧系统A", {"客户名称": "name", "联系电话": "phone", "客户级别": "loyalty.tier"}, {}
        ),
    )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.MAPPING  # the tier names are asked again too
    assert 'value="gold" selected' in client.get(url).content.decode()
    client.post(url, mapping_post(job, "旧系统A", {}, {"白金VIP": "diamond", "普卡": "basic"}))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW
    profile = ImportProfile.objects.get()
    assert profile.headers["档案编号"] == "" and profile.values["loyalty.tier"]["白金VIP"] == "diamond"
    assert AuditLog.objects.filter(action="members.import.mapping_reset").count() == 1


def test_hash_set_behaves_like_a_set_of_ints():
    import random

    rng = random.Random(5)
    found, ref = importer.HashSet(capacity=4), set()
    for i in range(50_000):
        # Hashes: 0 and 1 are one key (0 marks an empty slot), so the small ones start at 2.
        key = rng.getrandbits(64) - 2**63 if i % 3 else rng.choice([*range(-50, 0), *range(2, 50)])
        assert found.add(key) == (key not in ref)
        ref.add(key)
    assert len(found) == len(ref) and all(k in found for k in ref)
    assert not any(k in found for k in (rng.getrandbits(64) - 2**63 for _ in range(1000)) if k not in ref)
