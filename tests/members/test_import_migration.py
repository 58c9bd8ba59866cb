"""Migration from an old system: messy exports, loyalty columns, idempotency, atomicity, and
files that are not spreadsheets at all."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from loyalty import importing
from loyalty.models import Membership, PointsAccount, PointsEntry, PointsLot, Purchase, TierChange
from loyalty.services import rolling_stats
from loyalty.stored_value_models import StoredValueAccount, StoredValueEntry
from members import importer
from members.models import ImportJob, Member

from .factories import make_member

pytestmark = pytest.mark.django_db

HEADER = (
    "姓名 ,手机号,性别,出生日期,身份证号,会员卡号,会员等级,积分余额,积分到期日,累计消费,"
    "近12个月消费,消费次数,最近就诊日期,过敏史,既往病史,标签,储值余额,备注"
)
# Every mess the issue names: a title row, GB18030, full-width digits, "+86 138-0013-8000",
# an Excel date serial (31113 = 1985-03-07), "1985.3.7", an exact duplicate row, trailing spaces.
EXPORT = "\r\n".join(
    [
        "会员信息导出 2026-11-30,,,,",
        HEADER,
        '张伟 ,+86 138-0013-8000,男,1985.3.7,,VIP0001,VIP,１２００,2099-06-30,"12,000.50",5000,4,2026-10-01,青霉素 ,,"种植,高价值",,老会员  ',
        "李娜,１３９００００２２２２,女,31113,,00088,金卡,300,,,,,,,高血压,,,",
        "李娜,１３９００００２２２２,女,31113,,00088,金卡,300,,,,,,,高血压,,,",
        "老客户,13700000000,女,,,A-77,银卡,50,,,,,,,,,0,",
        "王五,13800009999,男,1990-01-01,,,,abc,,,,,,,,,,",
        "赵六,13800008888,男,,,,,,,,,,,,,,500,",
    ]
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def programme():
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)


def upload(content: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def run(manager, branch, content: bytes, name="export.csv") -> ImportJob:
    job = importer.import_job_create(actor=manager, branch=branch, upload=upload(content, name))
    assert job.status == ImportJob.Status.PREVIEW, job.message
    return job


def test_messy_old_export_migrates_with_cards_tiers_and_points(branch, manager):
    old = make_member(branch, name="老客户", phone="13700000000")
    job = run(manager, branch, EXPORT.encode("gb18030"))
    errors = {(e["row"], e["column"]) for e in job.errors}
    assert errors == {(7, "积分余额")}, job.errors
    assert any(n["row"] == 5 and n.get("skipped") for n in job.summary["notices"])  # the repeat
    actions = {r["name"]: r["action"] for r in job.preview}
    assert actions == {"张伟": "create", "李娜": "create", "老客户": "update", "赵六": "create"}
    assert (job.summary["create"], job.summary["update"], job.summary["skip"]) == (3, 1, 1)

    job = importer.import_confirm(actor=manager, job=job)
    assert job.status == ImportJob.Status.DONE and job.imported_rows == 3, job.message
    zhang = Member.objects.get(name="张伟")
    assert zhang.phone == "+8613800138000" and zhang.birth_date == dt.date(1985, 3, 7)
    assert zhang.allergies == "青霉素" and zhang.has_medical_alerts and zhang.notes == "老会员"
    assert zhang.card_no == "VIP0001" and zhang.stage == "member"
    assert sorted(zhang.tags.values_list("name", flat=True)) == ["种植", "高价值"]
    assert timezone.localtime(zhang.last_visit_at).date() == dt.date(2026, 10, 1)
    li = Member.objects.get(name="李娜")
    assert li.phone == "+8613900002222" and li.birth_date == dt.date(1985, 3, 7)
    assert li.conditions == "高血压" and li.card_no == "00088"  # the old format, leading zeros kept

    tiers = dict(Membership.objects.values_list("card_no", "tier__code"))
    assert tiers == {"VIP0001": "diamond", "00088": "gold", "A-77": "silver"}
    assert set(TierChange.objects.values_list("cause", flat=True)) == {"migration"}
    balances = dict(PointsAccount.objects.values_list("member__name", "balance"))
    assert balances == {"张伟": 1200, "李娜": 300, "老客户": 50}
    assert PointsLot.objects.get(account__member=zhang).expires_on == dt.date(2099, 6, 30)
    old.refresh_from_db()
    assert old.card_no == "A-77" and old.gender == "F"  # empty fields filled
    # Spend and visits count toward tiers: 5000 yuan and 4 visits in the last 12 months.
    assert rolling_stats(zhang) == (5000, 4)
    assert Purchase.objects.filter(member=zhang).aggregate(s=Sum("amount"))["s"] == pytest.approx(12000.50)
    # 储值余额 opens the stored-value ledger (all of it the paid part), keyed per (file, row).
    zhao = StoredValueAccount.objects.get(member__name="赵六")
    assert (zhao.paid_balance, zhao.bonus_balance) == (Decimal("500.00"), Decimal("0.00"))

    # The same export again: every row matches, nothing is credited or created twice.
    entries, purchases = PointsEntry.objects.count(), Purchase.objects.count()
    again = importer.import_confirm(actor=manager, job=run(manager, branch, EXPORT.encode("gb18030")))
    assert again.status == ImportJob.Status.DONE and again.imported_rows == 0, again.message
    assert again.summary["update"] == 4
    assert PointsEntry.objects.count() == entries and Purchase.objects.count() == purchases
    assert StoredValueEntry.objects.count() == 1
    assert dict(PointsAccount.objects.values_list("member__name", "balance")) == balances
    assert Membership.objects.count() == 3 and Member.objects.filter(name="张伟").count() == 1


def test_updates_never_overwrite_and_say_so(branch, manager):
    make_member(branch, name="老客户", phone="13700000000", occupation="教师")
    job = run(manager, branch, "姓名,手机号,职业\n老客户,13700000000,医生\n".encode())
    assert job.preview[0]["action"] == "update"
    notice = job.summary["notices"][0]
    assert notice["row"] == 2 and "未写入" in notice["message"]
    importer.import_confirm(actor=manager, job=job)
    assert Member.objects.get(name="老客户").occupation == "教师"


def test_a_failure_mid_commit_leaves_nothing(branch, manager, monkeypatch):
    job = run(manager, branch, EXPORT.encode("gb18030"))
    members, tags = Member.objects.count(), apps.get_model("members", "Tag").objects.count()

    def crash(self, **kwargs):  # after the people were written with COPY
        raise RuntimeError("disk full")

    monkeypatch.setattr(importing.LoyaltyImport, "commit", crash)
    job = importer.import_confirm(actor=manager, job=job)
    assert job.status == ImportJob.Status.FAILED and "回滚" in job.message
    assert Member.objects.count() == members and apps.get_model("members", "Tag").objects.count() == tags
    assert not Membership.objects.exists() and not PointsEntry.objects.exists()

    # Fixed, the same job runs to completion once, without duplicates.
    monkeypatch.undo()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.IMPORTING)
    job = importer.import_commit(job_id=job.pk, actor_id=manager.pk)
    assert job.status == ImportJob.Status.DONE and job.imported_rows == 4  # 老客户 is new here
    assert PointsEntry.objects.count() == 3


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("members.xlsx", b"name,phone\n\xe5\xbc\xa0,138\n", "无法作为表格读取"),
        ("members.xls", b"%PDF-1.4 not a workbook", "无法作为表格读取"),
        ("members.csv", "姓名,手机号\n张三,13800001111\x00\n".encode(), "NUL"),
        ("members.csv", b"foo,bar\n1,2\n", "表头"),
    ],
)
def test_unreadable_files_fail_with_a_message_and_are_removed(
    branch, manager, client_for, name, content, words
):
    response = client_for(manager).post(reverse("members:import"), {"file": upload(content, name)})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "members:import_detail", args=[job.pk]
    )
    assert job.status == ImportJob.Status.FAILED and words in job.message and job.finished_at
    assert not job.file and not any(
        (importer.Path(importer.settings.MEDIA_ROOT) / "imports").rglob("members*")
    )
    page = client_for(manager).get(response["Location"]).content.decode()
    assert words in page and "失败" in page


def test_unreadable_file_message_in_english(branch, manager, client_for):
    client = client_for(manager)
    client.cookies["clinic_language"] = "en"
    client.post(reverse("members:import"), {"file": upload(b"junk", "x.xlsx")})
    assert "cannot be read as a spreadsheet" in ImportJob.objects.get().message


def test_a_file_that_breaks_while_being_checked_ends_failed(branch, manager, client_for, monkeypatch):
    def broken(self, number, row):
        raise OSError("sheet stream broke")

    monkeypatch.setattr(importer.RowValidator, "check", broken)
    response = client_for(manager).post(
        reverse("members:import"), {"file": upload("姓名,手机号\n张三,13800001111\n".encode(), "a.csv")}
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.status == ImportJob.Status.FAILED and not job.file
    assert "无法检查" in job.message
