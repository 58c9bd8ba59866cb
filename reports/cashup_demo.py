"""seed_demo: the end-of-day cash-up (docs/reports.md). The last three days at each branch get
a cash stored-value top-up at the front desk (through loyalty's service, the clock moved back),
each cashier's count (one day ¥10 short, with the reason), and at 静安 the manager's
sign-off; 浦东 (no manager of its own in the demo) is counted and waits for one; today stays open. Idempotent:
a signed day is left alone, top-ups have their own keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import cashup
from .cashup_models import CashCount, DaySignOff

DAYS = (3, 2, 1)
TOP_UPS = {"JA": ("frontdesk", "500.00"), "PD": ("frontdesk_pd", "300.00")}
SHORT = {("JA", 2): (Decimal("-10.00"), "少收十元，已登记")}


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


@transaction.atomic
def seed_cashup(*, branches: dict) -> dict[str, int]:
    from loyalty.services.stored_value import stored_value_top_up
    from loyalty.stored_value_models import StoredValueEntry
    from members.models import Member, MemberStatus

    User = get_user_model()
    made = {"top_ups": 0, "counts": 0, "sign_offs": 0}
    manager = User.objects.filter(username="manager").first()
    today = timezone.localdate()
    for code, (username, amount) in TOP_UPS.items():
        branch, cashier = branches.get(code), User.objects.filter(username=username).first()
        if branch is None or cashier is None:
            continue
        people = list(Member.objects.filter(branch=branch, status=MemberStatus.ACTIVE).order_by("id")[5:8])
        for n, days_ago in enumerate(DAYS):
            day = today - dt.timedelta(days=days_ago)
            if DaySignOff.objects.filter(branch=branch, day=day).exists():
                continue
            key = f"demo-cashup-{code}-{day.isoformat()}"
            if people and not StoredValueEntry.objects.filter(idempotency_key=key).exists():
                with mock.patch("django.utils.timezone.now", return_value=_at(day, 15)):
                    stored_value_top_up(
                        actor=cashier,
                        member=people[n % len(people)],
                        amount=Decimal(amount),
                        method="cash",
                        idempotency_key=key,
                        branch=branch,
                    )
                made["top_ups"] += 1
            summary = cashup.day_summary(branch, day)
            for row in summary.rows:
                user = User.objects.filter(pk=row.cashier_id).first() if row.cashier_id else None
                if user is None or row.expected_cash == 0 or not user.has_perm(cashup.COUNT_PERM):
                    continue
                if CashCount.objects.filter(branch=branch, day=day, shift=row.shift, cashier=user).exists():
                    continue  # counted by an earlier run (a day waiting for its sign-off)
                short, note = SHORT.get((code, days_ago), (Decimal(0), ""))
                cashup.cash_count_record(
                    actor=user,
                    branch=branch,
                    day=day,
                    shift=row.shift,
                    counted=max(Decimal(0), row.expected_cash + short),
                    note=note,
                )
                made["counts"] += 1
            signer = (
                manager
                if manager is not None and manager.staff.branches.filter(pk=branch.pk).exists()
                else None
            )
            if signer is not None:
                try:
                    cashup.day_sign_off(actor=signer, branch=branch, day=day, note="演示：日结已核对")
                except cashup.CashupError:
                    continue
                DaySignOff.objects.filter(branch=branch, day=day).update(signed_at=_at(day, 21))
                made["sign_offs"] += 1
    return made
