"""Yearly allowances: per membership year, consumed by checkout, restored on void."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from loyalty import services
from loyalty.errors import LoyaltyError

from .factories import buy, enrolled, tier

pytestmark = pytest.mark.django_db


def _status(m, kind="cleaning"):
    return {s.kind: s for s in services.allowance_status(m)}[kind]


def test_allowances_follow_the_tier(branch, manager):
    m = enrolled(branch)
    assert services.allowance_status(m) == []  # 普通会员: none
    services.tier_override(actor=manager, member=m.member, tier=tier("diamond"), reason="测试")
    m.refresh_from_db()
    assert {(s.kind, s.per_year) for s in services.allowance_status(m)} == {("cleaning", 2), ("exam", 1)}


def test_consume_restore_and_reset_per_membership_year(branch):
    m = enrolled(branch)
    buy(m.member, "3000", "visit:1")  # 银卡: one free cleaning a year
    m.refresh_from_db()
    assert _status(m).remaining == 1
    services.allowance_consume(actor=None, member=m.member, kind="cleaning", source_key="visit:2:cleaning")
    services.allowance_consume(
        actor=None, member=m.member, kind="cleaning", source_key="visit:2:cleaning"
    )  # idempotent
    assert _status(m).remaining == 0
    with pytest.raises(LoyaltyError):
        services.allowance_consume(
            actor=None, member=m.member, kind="cleaning", source_key="visit:3:cleaning"
        )
    # voiding visit 2 gives the cleaning back
    buy(m.member, "0", "visit:2")
    services.purchase_reverse(actor=None, source_key="visit:2")
    assert _status(m).remaining == 1
    services.allowance_consume(actor=None, member=m.member, kind="cleaning", source_key="visit:4:cleaning")
    assert _status(m).remaining == 0
    # the next membership year starts afresh
    with time_machine.travel(timezone.now() + dt.timedelta(days=366)):
        start, _end = services.membership_year(m)
        assert start > timezone.localdate(m.enrolled_at)
        assert _status(m).remaining == 1


def test_restore_is_idempotent(branch):
    m = enrolled(branch)
    buy(m.member, "3000", "visit:1")
    services.allowance_consume(actor=None, member=m.member, kind="cleaning", source_key="c1")
    services.allowance_restore(actor=None, source_key="c1")
    services.allowance_restore(actor=None, source_key="c1")
    m.refresh_from_db()
    assert _status(m).remaining == 1
