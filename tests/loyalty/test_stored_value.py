"""Stored value (储值): top-ups with the bonus rule, spends (paid part first), restores on a
void, refunds of the paid part only, opening balances, merges, reconciliation, the ledger's
database guards and the liability report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinic.models import AuditLog, Role
from loyalty import services
from loyalty.errors import LoyaltyError
from loyalty.models import (
    StoredValueAccount,
    StoredValueBonusRule,
    StoredValueDrift,
    StoredValueEntry,
    StoredValueKind,
)
from loyalty.selectors import stored_value_for_source, stored_value_liability
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(db):
    return StoredValueBonusRule.objects.create(name="充1000送100", threshold=D("1000"), bonus=D("100"))


@pytest.fixture
def person(branch):
    return make_member(branch, name="储值客户")


def top_up(actor, member, amount, key="t1", **kwargs):
    return services.stored_value_top_up(
        actor=actor, member=member, amount=D(amount), method="wechat_pay", idempotency_key=key, **kwargs
    )


def acct(member) -> StoredValueAccount:
    return StoredValueAccount.objects.get(member=member, is_open=True)


def test_top_up_adds_the_bonus_of_the_highest_rule_reached_once(front_desk, person, rule):
    StoredValueBonusRule.objects.create(name="充3000送400", threshold=D("3000"), bonus=D("400"))
    e = top_up(front_desk, person, "2000")
    assert (e.paid, e.bonus) == (D("2000"), D("100"))  # once per top-up, not per ¥1000
    e = top_up(front_desk, person, "3000", key="t2")
    assert (e.paid, e.bonus) == (D("3000"), D("400"))
    e = top_up(front_desk, person, "999.99", key="t3")
    assert e.bonus == 0
    a = acct(person)
    assert (a.paid_balance, a.bonus_balance) == (D("5999.99"), D("500"))
    assert AuditLog.objects.filter(action="loyalty.stored_value.topped_up").count() == 3


def test_inactive_or_out_of_date_rules_give_no_bonus(front_desk, person, rule):
    rule.valid_until = timezone.localdate() - dt.timedelta(days=1)
    rule.save()
    assert top_up(front_desk, person, "1000").bonus == 0


def test_top_up_is_idempotent_on_its_key(front_desk, person, rule):
    first = top_up(front_desk, person, "1000")
    again = top_up(front_desk, person, "1000")
    assert again.pk == first.pk and again.was_created is False
    assert acct(person).balance == D("1100")


@pytest.mark.parametrize("amount", ["0", "-5", "200000.01"])
def test_top_up_refuses_bad_amounts(front_desk, person, amount):
    with pytest.raises(LoyaltyError) as exc:
        top_up(front_desk, person, amount)
    assert exc.value.field == "amount"
    assert not StoredValueEntry.objects.exists()


def test_top_up_needs_the_permission_and_a_known_method(staff_factory, front_desk, person):
    doctor = staff_factory(Role.DOCTOR)
    with pytest.raises(LoyaltyError) as exc:
        top_up(doctor, person, "100")
    assert exc.value.code == "forbidden"
    with pytest.raises(LoyaltyError) as exc:
        services.stored_value_top_up(
            actor=front_desk, member=person, amount=D("100"), method="bitcoin", idempotency_key="x"
        )
    assert exc.value.field == "method"


def test_spend_takes_the_paid_part_first_then_the_bonus(front_desk, person, rule):
    top_up(front_desk, person, "1000")  # 1000 paid + 100 bonus
    e = services.stored_value_spend(
        actor=front_desk, member=person, amount=D("600"), idempotency_key="visit:1:stored_value"
    )
    assert (e.paid, e.bonus, e.paid_after, e.bonus_after) == (D("-600"), D("0"), D("400"), D("100"))
    e = services.stored_value_spend(
        actor=front_desk, member=person, amount=D("450"), idempotency_key="visit:2:stored_value"
    )
    assert (e.paid, e.bonus, e.paid_after, e.bonus_after) == (D("-400"), D("-50"), D("0"), D("50"))


def test_spend_refuses_more_than_the_balance_and_writes_nothing(front_desk, person):
    top_up(front_desk, person, "100")
    with pytest.raises(LoyaltyError) as exc:
        services.stored_value_spend(actor=front_desk, member=person, amount=D("100.01"), idempotency_key="s")
    assert exc.value.code == "insufficient" and "¥100.00" in str(exc.value.message)
    assert acct(person).balance == D("100")
    assert StoredValueEntry.objects.count() == 1


def test_spend_without_an_account_is_a_clear_error(front_desk, person):
    with pytest.raises(LoyaltyError) as exc:
        services.stored_value_spend(actor=front_desk, member=person, amount=D("1"), idempotency_key="s")
    assert exc.value.code == "no_account"


def test_restore_gives_back_exactly_the_parts_taken_once(front_desk, person, rule):
    top_up(front_desk, person, "1000")
    services.stored_value_spend(
        actor=front_desk,
        member=person,
        amount=D("1050"),
        idempotency_key="visit:9:stored_value",
        source_key="visit:9",
    )
    [r] = services.stored_value_restore(actor=front_desk, source_key="visit:9", reason="录错")
    assert (r.kind, r.paid, r.bonus) == (StoredValueKind.RESTORE, D("1000"), D("50"))
    assert services.stored_value_restore(actor=front_desk, source_key="visit:9") == []
    a = acct(person)
    assert (a.paid_balance, a.bonus_balance) == (D("1000"), D("100"))
    assert services.stored_value_restore(actor=front_desk, source_key="visit:404") == []


def test_refund_pays_back_paid_part_and_forfeits_bonus_in_proportion(manager, person, rule):
    top_up(manager, person, "1000")
    e = services.stored_value_refund(
        actor=manager, member=person, amount=D("400"), method="cash", reason="搬家", idempotency_key="r1"
    )
    assert (e.paid, e.bonus) == (D("-400"), D("-40"))
    e = services.stored_value_refund(
        actor=manager, member=person, amount=D("600"), method="cash", reason="搬家", idempotency_key="r2"
    )
    assert (e.paid, e.bonus, e.paid_after, e.bonus_after) == (D("-600"), D("-60"), D("0"), D("0"))
    log = AuditLog.objects.filter(action="loyalty.stored_value.refunded").latest("id")
    assert log.changes["reason"] == "搬家"


def test_refund_never_pays_out_the_bonus(manager, person, rule):
    top_up(manager, person, "1000")
    services.stored_value_spend(actor=manager, member=person, amount=D("1000"), idempotency_key="s")
    with pytest.raises(LoyaltyError) as exc:
        services.stored_value_refund(
            actor=manager, member=person, amount=D("1"), method="cash", reason="x", idempotency_key="r"
        )
    assert exc.value.code == "insufficient"
    assert acct(person).bonus_balance == D("100")


def test_refund_needs_the_permission_and_a_reason(front_desk, manager, person):
    top_up(front_desk, person, "100")
    with pytest.raises(LoyaltyError) as exc:
        services.stored_value_refund(
            actor=front_desk, member=person, amount=D("10"), method="cash", reason="x", idempotency_key="r"
        )
    assert exc.value.code == "forbidden"
    with pytest.raises(LoyaltyError) as exc:
        services.stored_value_refund(
            actor=manager, member=person, amount=D("10"), method="cash", reason="  ", idempotency_key="r"
        )
    assert exc.value.field == "reason"
    assert acct(person).paid_balance == D("100")


def test_open_balance_carries_both_parts_once(person):
    e = services.stored_value_open_balance(
        actor=None, member=person, paid=D("800"), bonus=D("80"), idempotency_key="import:1:row:2:stored_value"
    )
    again = services.stored_value_open_balance(
        actor=None, member=person, paid=D("800"), bonus=D("80"), idempotency_key="import:1:row:2:stored_value"
    )
    assert again.pk == e.pk and e.kind == StoredValueKind.OPEN
    assert (acct(person).paid_balance, acct(person).bonus_balance) == (D("800"), D("80"))
    assert AuditLog.objects.filter(action="loyalty.stored_value.opened").count() == 1


@pytest.mark.parametrize(("paid", "bonus"), [("-1", "0"), ("0", "0"), ("0", "-3")])
def test_open_balance_refuses_negative_or_empty(person, paid, bonus):
    with pytest.raises(LoyaltyError):
        services.stored_value_open_balance(
            actor=None, member=person, paid=D(paid), bonus=D(bonus), idempotency_key="k"
        )


def test_entries_are_append_only_and_guarded_by_the_database(front_desk, person):
    e = top_up(front_desk, person, "100")
    with pytest.raises(Exception, match="pgtrigger"), transaction.atomic():
        StoredValueEntry.objects.filter(pk=e.pk).update(paid=D("1"))
    with pytest.raises(Exception, match="pgtrigger"), transaction.atomic():
        StoredValueEntry.objects.filter(pk=e.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        StoredValueAccount.objects.filter(member=person).update(paid_balance=D("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        StoredValueEntry.objects.create(
            account=e.account,
            kind="top_up",
            paid=D("1"),
            bonus=0,
            paid_after=1,
            bonus_after=0,
            idempotency_key="t1",
        )


def test_reconcile_reports_drift_once_per_run(front_desk, person, hq_admin):
    from clinic.notifications.models import Outbox

    hq_admin.email = "hq@example.cn"
    hq_admin.save()
    top_up(front_desk, person, "100")
    assert services.stored_value_reconcile() == []
    with connection.cursor() as cursor:  # a bad hand edit behind the service's back
        cursor.execute("UPDATE loyalty_storedvalueaccount SET bonus_balance = 7")
    [drift] = services.stored_value_reconcile()
    assert (drift.bonus_balance, drift.bonus_sum, drift.paid_balance, drift.paid_sum) == (
        D("7"),
        D("0"),
        D("100"),
        D("100"),
    )
    assert StoredValueDrift.objects.count() == 1
    assert AuditLog.objects.filter(action="loyalty.stored_value.drift_detected").exists()
    mail = Outbox.objects.get(template_key="loyalty.stored_value_drift", recipient="hq@example.cn")
    assert mail.params == {"count": 1, "date": timezone.localdate().isoformat()}


def test_reconcile_task_runs_the_service(front_desk, person):
    from loyalty.tasks import stored_value_reconcile

    top_up(front_desk, person, "100")
    assert stored_value_reconcile.apply().get() == 0


def test_merge_moves_the_balance_and_a_later_void_restores_to_the_kept_record(front_desk, branch, rule):
    from members.services import member_merge

    a, b = make_member(branch, name="重复甲"), make_member(branch, name="重复乙", phone="13900001111")
    top_up(front_desk, a, "1000", key="a")
    top_up(front_desk, b, "200", key="b")
    services.stored_value_spend(
        actor=front_desk,
        member=a,
        amount=D("300"),
        idempotency_key="visit:5:stored_value",
        source_key="visit:5",
    )
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("sv-root", password="x")
    member_merge(actor=root, source=a, target=b)
    kept = acct(b)
    assert (kept.paid_balance, kept.bonus_balance) == (D("900"), D("100"))
    services.stored_value_restore(actor=front_desk, source_key="visit:5")
    kept = acct(b)
    assert (kept.paid_balance, kept.bonus_balance) == (D("1200"), D("100"))
    assert services.stored_value_drift_rows() == []


def test_receipt_summary_of_a_spend(front_desk, person, rule):
    top_up(front_desk, person, "1000")
    services.stored_value_spend(
        actor=front_desk,
        member=person,
        amount=D("1020"),
        idempotency_key="visit:3:stored_value",
        source_key="visit:3",
    )
    s = stored_value_for_source("visit:3")
    assert (s["paid"], s["bonus"], s["spent"], s["balance_after"]) == (D("1000"), D("20"), D("1020"), D("80"))
    assert stored_value_for_source("visit:4") is None


def test_liability_per_branch_as_of_a_day(front_desk, hq_admin, branch, other_branch, rule):
    here, there = (
        make_member(branch, name="本店"),
        make_member(other_branch, name="他店", phone="13900002222"),
    )
    with time_machine.travel(dt.datetime(2026, 3, 1, 10, tzinfo=timezone.get_default_timezone())):
        top_up(hq_admin, here, "1000", key="h1")
        top_up(hq_admin, there, "500", key="t1")
    with time_machine.travel(dt.datetime(2026, 3, 2, 23, 30, tzinfo=timezone.get_default_timezone())):
        services.stored_value_spend(actor=hq_admin, member=here, amount=D("300"), idempotency_key="s1")
    march1 = {r.branch_id: r for r in stored_value_liability(hq_admin, as_of=dt.date(2026, 3, 1))}
    assert (march1[branch.pk].paid, march1[branch.pk].bonus, march1[branch.pk].total) == (
        D("1000"),
        D("100"),
        D("1100"),
    )
    assert march1[other_branch.pk].total == D("500")
    # 23:30 in Shanghai is still 2 March (15:30 UTC): the spend belongs to that day.
    march2 = {r.branch_id: r for r in stored_value_liability(hq_admin, as_of=dt.date(2026, 3, 2))}
    assert march2[branch.pk].paid == D("700") and march2[branch.pk].accounts == 1
    assert stored_value_liability(hq_admin, as_of=dt.date(2026, 2, 28)) == []
    # Branch staff see only their branch.
    assert [r.branch_id for r in stored_value_liability(front_desk, as_of=dt.date(2026, 3, 2))] == [branch.pk]


def test_demo_data_has_members_with_a_balance():
    from django.core.management import call_command

    call_command("seed_demo", "--quiet")
    call_command("seed_demo", "--quiet")  # idempotent: nothing twice
    accounts = {a.member.phone: a for a in StoredValueAccount.objects.select_related("member")}
    assert accounts["+8613900001001"].paid_balance == D("2320") and accounts[
        "+8613900001001"
    ].bonus_balance == D("400")
    assert accounts["+8613900001004"].bonus_balance == D("150")
    assert StoredValueBonusRule.objects.count() == 2
    assert services.stored_value_drift_rows() == []
