"""Browser: a branch manager migrates an old system's export: upload, match its unknown columns
and tier names, read the preview, import; the members arrive with their tiers and points."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from playwright.sync_api import expect

from loyalty.models import Membership, PointsAccount
from members.models import ImportProfile

from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXPORT = "\n".join(
    [
        "会员信息导出 2026-11-30",
        "客户名称,联系电话,客户级别,可用积分",
        "周一,13811110001,白金VIP,100",
        "吴二,13811110002,普卡,20",
    ]
)


@pytest.fixture
def programme(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)


def test_upload_map_preview_commit(live_server, page, branch, manager, programme, screenshot, tmp_path):
    export = tmp_path / "旧系统导出.csv"
    export.write_bytes(EXPORT.encode("gb18030"))
    log_in(page, live_server.url, manager.username)
    page.goto(f"{live_server.url}/members/import/")
    page.get_by_label("表格文件（.xlsx、.xls 或 .csv）").set_input_files(str(export))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.get_by_test_id("import-needs-mapping")).to_be_visible()
    page.get_by_test_id("import-map").click()

    # Round one: the columns.
    form = page.get_by_test_id("import-mapping-form")
    form.get_by_label("来源系统").fill("旧系统A")
    form.get_by_label("客户名称").select_option(label="姓名")
    form.get_by_label("联系电话").select_option(label="手机号")
    form.get_by_label("客户级别").select_option(label="会员等级")
    screenshot("import-mapping-1-columns")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("import-mapping-1-columns-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_test_id("import-mapping-save").click()

    # Round two: the old tier names, now that the tier column is known.
    expect(page.get_by_test_id("import-needs-mapping")).to_be_visible()
    page.get_by_test_id("import-map").click()
    expect(page.get_by_label("来源系统")).to_have_value("旧系统A")
    page.get_by_label("白金VIP").select_option(label="钻石")
    page.get_by_label("普卡").select_option(label="普通会员")
    screenshot("import-mapping-2-values")
    page.get_by_test_id("import-mapping-save").click()

    preview = page.get_by_test_id("import-preview")
    expect(preview).to_contain_text("周一")
    expect(page.get_by_test_id("import-profile")).to_contain_text("旧系统A")
    screenshot("import-mapping-3-preview")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("import-mapping-3-preview-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_test_id("import-confirm").click()
    expect(page.get_by_test_id("import-status")).to_contain_text("已导入 2 位客户")
    screenshot("import-mapping-4-done")

    assert dict(Membership.objects.values_list("member__name", "tier__code")) == {
        "周一": "diamond",
        "吴二": "basic",
    }
    assert dict(PointsAccount.objects.values_list("member__name", "balance")) == {"周一": 100, "吴二": 20}
    assert ImportProfile.objects.get().values == {"loyalty.tier": {"白金VIP": "diamond", "普卡": "basic"}}


def test_mapping_page_has_no_serious_axe_violation(live_server, browser, branch, manager, programme):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from members.importer import import_job_create
    from tests.conftest import PASSWORD

    from .test_accessibility import audit

    job = import_job_create(actor=manager, branch=branch, upload=SimpleUploadedFile("a.csv", EXPORT.encode()))
    assert job.status == "mapping"
    for viewport in ({"width": 1280, "height": 800}, {"width": 390, "height": 844}):
        context = browser.new_context(
            base_url=live_server.url, bypass_csp=True, locale="zh-CN", viewport=viewport
        )
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("用户名").fill(manager.username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(lambda u: "/login/" not in u)
        for url in (f"/members/import/{job.pk}/mapping/", f"/members/import/{job.pk}/", "/members/import/"):
            assert audit(page, url) == [], url
        context.close()
