"""Browser: a manager asks for the export of a long list; it becomes a job whose page shows
the progress, refreshes itself (htmx) until the file is ready, then downloads it. At 1280 px
and on a 390 px phone, with no serious axe-core violation; screenshots of both."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from reports import export_tasks
from reports.export_models import ExportJob
from tests.e2e.test_reports_dashboard import log_in
from tests.members.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def long_list(branch, settings, tmp_path, monkeypatch):
    settings.REPORTS_EXPORT_DIR = tmp_path / "exports"
    settings.REPORTS_EXPORT_INLINE_ROWS = 3
    for i in range(8):
        make_member(branch, name=f"导出客户{i}", phone=f"+86139000002{i:02d}")

    def later(job_id):
        # A worker that picks the job up a moment later, so the page is seen waiting first.
        def run():
            try:
                export_tasks.export_run.run(job_id)
            finally:
                connection.close()

        threading.Timer(2.5, run).start()

    monkeypatch.setattr(export_tasks.export_run, "delay", later)
    return branch


def test_a_manager_exports_a_long_list_through_a_job(
    live_server, browser, page, manager, long_list, screenshot
):
    from tests.e2e.test_accessibility import AXE, AXE_RUN, report

    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, live_server.url, manager.username)
    page.goto(f"{live_server.url}/reports/drill/new_people/?period=today")
    page.get_by_test_id("drill-export").get_by_role("link", name="导出 CSV").click()
    expect(page.get_by_test_id("export-status")).to_be_visible()
    expect(page.get_by_test_id("export-state")).to_have_text("排队中")
    screenshot("report-export-1-waiting")
    expect(page.get_by_test_id("export-state")).to_have_text("已完成", timeout=20_000)
    expect(page.get_by_test_id("export-download")).to_be_visible()
    screenshot("report-export-2-ready")
    with page.expect_download() as download:
        page.get_by_test_id("export-download").click()
    with open(download.value.path(), "rb") as f:
        lines = list(csv.reader(io.StringIO(f.read().decode("utf-8").lstrip("\ufeff"))))
    assert len(lines) == 9 and lines[0] == ["时间", "客户", "电话", "详情"]
    job = ExportJob.objects.get()
    assert job.status == "done" and job.rows_done == 8

    found = {}
    url = f"/reports/exports/{job.pk}/"
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(
            base_url=live_server.url,
            bypass_csp=True,  # axe is injected as an inline script
            locale="zh-CN",
            viewport={"width": width, "height": height},
            is_mobile=width < 500,
        )
        other = context.new_page()
        log_in(other, live_server.url, manager.username)
        other.goto(url)
        other.wait_for_load_state()
        expect(other.get_by_test_id("export-recent")).to_contain_text("新客")
        other.screenshot(path=f"var/screenshots/report-export-3-{width}.png", full_page=True)
        size = other.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert size[0] <= size[1], (width, size)
        other.add_script_tag(path=str(AXE))
        found[(f"manager@{width}", url)] = other.evaluate(AXE_RUN)
        context.close()
    assert not any(found.values()), report(found)
