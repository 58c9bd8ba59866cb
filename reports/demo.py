"""Demo data of the reports (seed_demo): a year of history (history_demo), the daily rollups
built over it, and last month closed at every branch, so a newcomer sees a closed month beside
the live one."""

from __future__ import annotations

from django.utils import timezone

from . import dashboard, month_close, rollups
from .close_models import MonthClose


def seed_reports(*, branches) -> None:
    """``branches``: {code: Branch}, as seed_demo holds them."""
    from .history_demo import seed_history

    seed_history(branches=branches)
    rollups.rollup_refresh(full=True)
    last_month = dashboard._shift_month(timezone.localdate().replace(day=1), -1)
    for branch in branches.values():
        if not MonthClose.objects.filter(branch=branch, month=last_month).exists():
            month_close.month_close(actor=None, branch=branch, month=last_month)
    _seed_export_job(branches)


def _seed_export_job(branches) -> None:
    """A finished export job of the demo manager (this month's visits as CSV), so that "我的导出"
    shows one; the file is written by the job's own code. Once only."""
    import datetime as dt

    from django.contrib.auth import get_user_model

    from . import export_jobs
    from .export_models import ExportJob

    manager = get_user_model().objects.filter(username="manager").first()
    branch = branches.get("JA")
    if manager is None or branch is None or ExportJob.objects.filter(requested_by=manager).exists():
        return
    today = timezone.localdate()
    job = ExportJob.objects.create(
        requested_by=manager,
        branch=branch,
        code="visits",
        period="mtd",
        lo=today.replace(day=1),
        hi=today + dt.timedelta(days=1),
        fmt="csv",
        rows_total=export_jobs.drill_count(
            code="visits", branch=branch, lo=today.replace(day=1), hi=today + dt.timedelta(days=1)
        ),
    )
    export_jobs.export_job_run(job.pk)
