"""The loyalty jobs on the beat schedule. Each one calls a service that is idempotent, so a
retry or a second beat never applies anything twice."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from . import services


@clinic_task(time_limit=3600, soft_time_limit=3300)
def points_expire(self) -> dict:
    """Nightly: expire the lots whose last valid day has passed (one expire entry per lot)."""
    lots, points = services.points_expire_due()
    heartbeat_record(name="loyalty.points_expire")
    return {"lots": lots, "points": points}


@clinic_task(time_limit=1800, soft_time_limit=1700)
def points_expiry_warn(self) -> int:
    """Daily: warn members 30 days before their points expire (once per expiry date)."""
    sent = services.points_expiry_warn()
    heartbeat_record(name="loyalty.points_expiry_warn")
    return sent


@clinic_task(time_limit=3600, soft_time_limit=3300)
def points_reconcile(self) -> int:
    """Nightly: balance == sum(entries) == sum(open lots) for every account; report drift."""
    drifts = services.points_reconcile()
    heartbeat_record(name="loyalty.points_reconcile")
    return len(drifts)


@clinic_task(time_limit=3600, soft_time_limit=3300)
def stored_value_reconcile(self) -> int:
    """Nightly: both parts of every stored value balance == the sums of its entries."""
    drifts = services.stored_value_reconcile()
    heartbeat_record(name="loyalty.stored_value_reconcile")
    return len(drifts)


@clinic_task(time_limit=1800, soft_time_limit=1700)
def tier_reviews(self) -> dict:
    """Daily: tier anniversary warnings (30 days ahead) and one-step downgrades."""
    counts = services.tier_reviews_run()
    heartbeat_record(name="loyalty.tier_reviews")
    return counts


@clinic_task(time_limit=1800, soft_time_limit=1700)
def birthday_coupons(self) -> int:
    """Daily: the birthday coupon (``LOYALTY_AUTO_COUPONS["birthday"]``), once a year each."""
    from .auto_coupons import coupons_birthday_issue

    issued = coupons_birthday_issue()
    heartbeat_record(name="loyalty.birthday_coupons")
    return issued
