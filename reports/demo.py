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
