"""The points ledger: earn rules, FIFO, reversal, idempotency, expiry, warnings,
reconciliation, manual adjustments and merges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from clinic.models import AuditLog
from clinic.notifications.models import Outbox
from loyalty import services
from loyalty.errors import LoyaltyError
from loyalty.models import (
    EarnCategoryRate,
    EntryKind,
    ExpiryMode,
    LedgerDrift,
    LotConsumption,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsPolicy,
)
from members.services import member_merge
from tests.clinic.factories import ServiceCategoryFactory
from tests.members.factories import make_member

from .factories import account, buy, earn, enrolled, invariant_holds, tier

pytestmark = pytest.mark.django_db


# --- earning ---------------------------------------------------------------------------------


def test_earn_with_tier_multiplier_rounds_down_once(branch):
    m = enrolled(branch)
    buy(m.member, "199.99", "visit:1")  # 普通会员 ×1.00 → 199.99 → 199
    assert account(m.member).balance == 199
    services.tier_override(actor=_superuser(), member=m.member, tier=tier("gold"), reason="VIP")
    buy(m.member, "99.99", "visit:2")  # 金卡 ×1.50 → 149.985 → 149 (never 150)
    entry = PointsEntry.objects.get(idempotency_key="visit:2:earn")
    assert entry.points == 149 and entry.source_key == "visit:2"
    assert account(m.member).balance == 348


def test_earn_per_category_rate_and_policy_rate(branch):
    ortho = ServiceCategoryFactory(code="ORTH", name="正畸")
    prev = ServiceCategoryFactory(code="PREV", name="预防", is_basic_care=True)
    EarnCategoryRate.objects.create(category=ortho, points_per_yuan=Decimal("0.5"))
    PointsPolicy.objects.filter(pk=1).update(points_per_yuan=Decimal("2"))
    m = enrolled(branch)
    buy(m.member, "1300", "visit:1", eligible_by_category={"ORTH": "1000", prev.pk: "300"})
    assert account(m.member).balance == 1000 * 0.5 + 300 * 2


def test_earn_is_idempotent(branch):
    m = enrolled(branch)
    first = earn(m.member, 50, "event:7:attend")
    again = earn(m.member, 50, "event:7:attend")
    assert first.pk == again.pk and again.was_created is False
    p1 = buy(m.member, "100", "visit:9")
    p2 = buy(m.member, "100", "visit:9")
    assert p1.pk == p2.pk and p2.was_created is False
    assert account(m.member).balance == 150
    assert PointsEntry.objects.filter(account__member=m.member).count() == 2


def test_idempotency_key_is_unique_in_the_database(branch):
    m = enrolled(branch)
    earn(m.member, 10, "k1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsEntry.objects.create(
            account=account(m.member), kind="earn", points=1, balance_after=11, idempotency_key="k1"
        )


def test_bonus_award_uses_configured_points(branch):
    m = enrolled(branch)
    entry = services.points_bonus_award(
        actor=None, member=m.member, kind="birthday", idempotency_key="birthday:2026"
    )
    assert entry.points == 200
    services.points_bonus_award(actor=None, member=m.member, kind="birthday", idempotency_key="birthday:2026")
    assert account(m.member).balance == 200


# --- spending: FIFO by expiry ---------------------------------------------------------------------


def test_fifo_by_expiry_across_many_lots(branch):
    m = enrolled(branch)
    # 30 lots earned on different days, out of order: expiry follows the earning day.
    days = [(i * 37) % 300 for i in range(30)]
    for i, d in enumerate(days):
        earn(m.member, 10 + i, f"lot:{i}", days_ago=d)
    lots_by_expiry = list(PointsLot.objects.filter(account__member=m.member).order_by("expires_on", "id"))
    total = sum(lot.points for lot in lots_by_expiry)
    spend = sum(lot.points for lot in lots_by_expiry[:12]) + 5
    entry = services.points_redeem(actor=None, member=m.member, points=spend, idempotency_key="reward:1")
    taken = list(
        LotConsumption.objects.filter(entry=entry)
        .select_related("lot")
        .order_by("lot__expires_on", "lot__id")
    )
    assert [c.lot_id for c in taken] == [lot.pk for lot in lots_by_expiry[:13]]
    assert [c.points for c in taken[:12]] == [lot.points for lot in lots_by_expiry[:12]]
    assert taken[12].points == 5
    for lot in lots_by_expiry:
        lot.refresh_from_db()
    assert all(lot.remaining == 0 for lot in lots_by_expiry[:12])
    assert lots_by_expiry[12].remaining == lots_by_expiry[12].points - 5
    assert account(m.member).balance == total - spend
    assert invariant_holds(m.member)


def test_redeem_more_than_balance_is_refused(branch):
    m = enrolled(branch)
    earn(m.member, 30, "a")
    with pytest.raises(LoyaltyError) as exc:
        services.points_redeem(actor=None, member=m.member, points=31, idempotency_key="r")
    assert exc.value.code == "insufficient"
    assert account(m.member).balance == 30


# --- reversal -------------------------------------------------------------------------------------


def test_reversal_after_partial_spending_takes_own_lot_first_then_oldest(branch):
    m = enrolled(branch)
    earn(m.member, 100, "old", days_ago=200)  # oldest other lot
    earn(m.member, 100, "newer", days_ago=100)
    buy(m.member, "300", "visit:5")  # the visit's own lot: 300 points, newest
    services.points_redeem(
        actor=None, member=m.member, points=250, idempotency_key="spend"
    )  # old 100, newer 100, own 50
    own = PointsLot.objects.get(entry__idempotency_key="visit:5:earn")
    assert own.remaining == 250
    services.purchase_reverse(actor=None, source_key="visit:5", reason="退款")
    rev = PointsEntry.objects.get(idempotency_key="visit:5:earn:reverse")
    assert rev.kind == EntryKind.REVERSE and rev.points == -250 and rev.shortfall == 50
    assert account(m.member).balance == 0
    assert AuditLog.objects.filter(action="loyalty.points.reversed", changes__shortfall=50).exists()
    assert invariant_holds(m.member)


def test_reversal_consumes_own_lot_before_older_lots(branch):
    m = enrolled(branch)
    earn(m.member, 100, "old", days_ago=200)
    buy(m.member, "80", "visit:6")
    services.purchase_reverse(actor=None, source_key="visit:6")
    old = PointsLot.objects.get(entry__idempotency_key="old")
    assert old.remaining == 100 and account(m.member).balance == 100
    # and it is idempotent
    services.purchase_reverse(actor=None, source_key="visit:6")
    services.points_reverse(actor=None, earn_key="visit:6:earn")
    assert PointsEntry.objects.filter(kind=EntryKind.REVERSE).count() == 1


# --- expiry ----------------------------------------------------------------------------------------


def test_expiry_policy_months_and_year_end():
    policy = services.policy()
    assert services.expiry_date(dt.date(2026, 1, 31), policy) == dt.date(2027, 1, 30)
    policy.expiry_mode = ExpiryMode.YEAR_END
    assert services.expiry_date(dt.date(2026, 3, 5), policy) == dt.date(2027, 12, 31)


def test_expiry_job_is_set_based_idempotent_one_entry_per_lot(branch):
    a = enrolled(branch, name="甲")
    b = enrolled(branch, name="乙")
    earn(a.member, 100, "a1", days_ago=400)
    earn(a.member, 50, "a2", days_ago=380)
    earn(a.member, 70, "a3", days_ago=10)
    earn(b.member, 30, "b1", days_ago=370)
    services.points_redeem(actor=None, member=a.member, points=20, idempotency_key="spend")  # from a1
    lots, points = services.points_expire_due()
    assert (lots, points) == (3, 80 + 50 + 30)
    expired = PointsEntry.objects.filter(kind=EntryKind.EXPIRE).order_by("id")
    assert expired.count() == 3
    assert {e.idempotency_key for e in expired} == {f"expire:lot:{e.lot_id}" for e in expired}
    assert account(a.member).balance == 70 and account(b.member).balance == 0
    # balance_after is the running balance of each account
    a_entries = list(expired.filter(account__member=a.member))
    # 200 before: a1 (80 left) expires first, then a2 (50)
    assert {e.lot.entry.idempotency_key: e.balance_after for e in a_entries} == {"a1": 120, "a2": 70}
    assert services.points_expire_due() == (0, 0)  # run twice → same result
    assert PointsEntry.objects.filter(kind=EntryKind.EXPIRE).count() == 3
    assert invariant_holds(a.member) and invariant_holds(b.member)


def test_expiring_points_never_lower_a_tier(branch):
    m = enrolled(branch)
    buy(m.member, "12000", "visit:1", days_ago=370)
    m.refresh_from_db()
    services.tier_override(actor=_superuser(), member=m.member, tier=tier("gold"), reason="qualified")
    services.points_expire_due()
    m.refresh_from_db()
    assert m.tier == tier("gold")


def test_expiry_warning_is_sent_once_per_member_and_date(branch):
    m = enrolled(branch)
    earn(m.member, 40, "x1", days_ago=345)  # expires in ~20 days
    earn(m.member, 60, "x2", days_ago=345)  # same expiry date: one message for both
    earn(m.member, 10, "x3", days_ago=100)  # far away: no message
    assert services.points_expiry_warn() == 1
    assert services.points_expiry_warn() == 0
    with time_machine.travel(timezone.now() + dt.timedelta(days=1)):
        assert services.points_expiry_warn() == 0
    msgs = Outbox.objects.filter(template_key="loyalty.points_expiring")
    assert msgs.count() == 1
    assert msgs.get().params["points"] == 100


# --- reconciliation --------------------------------------------------------------------------------


def test_reconciliation_detects_a_planted_drift(branch, hq_admin):
    hq_admin.email = "hq@example.cn"
    hq_admin.save()
    good = enrolled(branch, name="好")
    bad = enrolled(branch, name="坏")
    earn(good.member, 10, "g")
    earn(bad.member, 10, "b")
    assert services.points_reconcile() == []
    with connection.cursor() as cursor:  # plant: the cache says 15, the ledger 10
        cursor.execute(
            "UPDATE loyalty_pointsaccount SET balance = 15 WHERE id = %s", [account(bad.member).pk]
        )
    drifts = services.points_reconcile()
    assert [(d.account_id, d.balance, d.entries_sum, d.lots_sum) for d in drifts] == [
        (account(bad.member).pk, 15, 10, 10)
    ]
    assert LedgerDrift.objects.count() == 1
    assert AuditLog.objects.filter(action="loyalty.ledger.drift_detected").exists()
    assert Outbox.objects.filter(template_key="loyalty.ledger_drift", recipient="hq@example.cn").exists()


def test_reconciliation_detects_a_lot_drift(branch):
    m = enrolled(branch)
    earn(m.member, 10, "g")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_pointslot SET remaining = 4")
    assert len(services.points_reconcile()) == 1


def test_ledger_is_append_only(branch):
    m = enrolled(branch)
    entry = earn(m.member, 10, "g")
    with pytest.raises(DatabaseError), transaction.atomic():  # the append-only trigger
        PointsEntry.objects.filter(pk=entry.pk).update(points=99)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsAccount.objects.filter(pk=entry.account_id).update(balance=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsLot.objects.filter(entry=entry).update(remaining=-1)


# --- manual adjustments ---------------------------------------------------------------------------


def test_adjust_needs_permission_and_reason_and_is_audited(branch, manager, front_desk):
    m = enrolled(branch)
    with pytest.raises(LoyaltyError):
        services.points_adjust(actor=front_desk, member=m.member, points=50, reason="补录")
    with pytest.raises(LoyaltyError):
        services.points_adjust(actor=manager, member=m.member, points=50, reason=" ")
    services.points_adjust(actor=manager, member=m.member, points=50, reason="补录活动积分")
    services.points_adjust(actor=manager, member=m.member, points=-20, reason="误录")
    assert account(m.member).balance == 30
    assert AuditLog.objects.filter(action="loyalty.points.adjusted", actor=manager).count() == 2
    with pytest.raises(LoyaltyError):
        services.points_adjust(actor=manager, member=m.member, points=-31, reason="超扣")


def test_one_adjustment_is_bounded_by_the_setting(branch, manager, settings):
    m = enrolled(branch)
    settings.LOYALTY_MAX_POINTS_ADJUSTMENT = 1000
    with pytest.raises(LoyaltyError) as err:
        services.points_adjust(actor=manager, member=m.member, points=100_000, reason="补录")
    assert err.value.field == "points" and "1000" in err.value.message
    assert account(m.member).balance == 0
    services.points_adjust(actor=manager, member=m.member, points=1000, reason="补录")
    assert account(m.member).balance == 1000


# --- merge ----------------------------------------------------------------------------------------


def test_merge_moves_points_by_ledger_entries_keeping_expiry(branch, manager):
    keep = enrolled(branch, name="张三").member
    dup = make_member(branch, name="张三")
    services.points_earn(actor=None, member=keep, points=10, idempotency_key="k")
    # the duplicate has an account of its own (e.g. a card cancelled before the merge)
    services.account_open(member=dup)
    services.points_adjust(actor=manager, member=dup, points=40, reason="旧卡积分")
    dup_lot = PointsLot.objects.get(account__member=dup)
    member_merge(actor=manager, source=dup, target=keep)
    assert PointsAccount.objects.get(member=keep, is_open=True).balance == 50
    assert PointsLot.objects.filter(
        account__member=keep, account__is_open=True, expires_on=dup_lot.expires_on, remaining=40
    ).exists()
    closed = PointsAccount.objects.get(is_open=False)
    assert closed.balance == 0 and closed.member_id == keep.pk
    assert invariant_holds(keep)


def _superuser():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="root", defaults={"is_superuser": True, "is_staff": True}
    )
    return user
