"""Demo data of the reports (seed_demo): the daily rollups built over the demo's history, and
last month closed at every branch, so a newcomer sees a closed month beside the live one."""

from __future__ import annotations

from django.utils import timezone

from . import dashboard, month_close, rollups
from .close_models import MonthClose


def seed_reports(*, branches) -> None:
    rollups.rollup_refresh(full=True)
    last_month = dashboard._shift_month(timezone.localdate().replace(day=1), -1)
    for branch in branches:
        if not MonthClose.objects.filter(branch=branch, month=last_month).exists():
            month_close.month_close(actor=None, branch=branch, month=last_month)
