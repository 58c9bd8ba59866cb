"""A hypothesis state machine over the stored value ledger: whatever sequence of top-ups
(with the bonus rule), spends, restores, refunds and retries, both cached parts equal the
sums of the entries and the model, nothing goes negative, and no bonus is ever paid out."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from clinic.money import to_money
from loyalty import services
from loyalty.errors import LoyaltyError
from loyalty.models import StoredValueAccount, StoredValueBonusRule, StoredValueEntry
from tests.clinic.factories import BranchFactory
from tests.members.factories import make_member

cents = st.integers(1, 300_000).map(lambda c: D(c) / 100)


class StoredValueMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.n = 0
        branch = BranchFactory(code="SV")
        self.member = make_member(branch, name=f"储值属性{StoredValueAccount.objects.count()}")
        self.admin, _ = get_user_model().objects.get_or_create(
            username="sv-hypo-root", defaults={"is_superuser": True}
        )
        StoredValueBonusRule.objects.get_or_create(
            name="充1000送100", defaults={"threshold": D("1000"), "bonus": D("100")}
        )
        self.paid, self.bonus = D("0"), D("0")  # the model
        self.refunded_bonus = D("0")
        self.spends: list[str] = []
        self.top_ups: list[str] = []

    def _key(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}:{self.member.pk}:{self.n}"

    @rule(amount=cents)
    def top_up(self, amount):
        key = self._key("t")
        e = services.stored_value_top_up(
            actor=self.admin, member=self.member, amount=amount, method="cash", idempotency_key=key
        )
        self.top_ups.append(key)
        self.paid += amount
        self.bonus += D("100") if amount >= 1000 else 0
        assert e.bonus == (D("100") if amount >= 1000 else 0)

    @precondition(lambda self: self.top_ups)
    @rule(data=st.data())
    def retry_top_up(self, data):
        key = data.draw(st.sampled_from(self.top_ups))
        e = services.stored_value_top_up(
            actor=self.admin, member=self.member, amount=D("1"), method="cash", idempotency_key=key
        )
        assert e.was_created is False

    @rule(amount=cents)
    def spend(self, amount):
        key = self._key("visit")
        try:
            e = services.stored_value_spend(
                actor=None, member=self.member, amount=amount, idempotency_key=f"{key}:sv", source_key=key
            )
        except LoyaltyError:
            assert amount > self.paid + self.bonus
        else:
            paid = min(self.paid, amount)
            assert (e.paid, e.bonus) == (-paid, -(amount - paid))  # paid part first
            self.paid -= paid
            self.bonus -= amount - paid
            self.spends.append(key)

    @precondition(lambda self: self.spends)
    @rule(data=st.data())
    def restore(self, data):
        key = data.draw(st.sampled_from(self.spends))
        for e in services.stored_value_restore(actor=None, source_key=key):
            self.paid += e.paid
            self.bonus += e.bonus

    @rule(amount=cents)
    def refund(self, amount):
        try:
            e = services.stored_value_refund(
                actor=self.admin,
                member=self.member,
                amount=amount,
                method="cash",
                reason="prop",
                idempotency_key=self._key("r"),
            )
        except LoyaltyError:
            assert amount > self.paid
        else:
            assert -e.paid == amount <= self.paid
            expected_bonus = self.bonus if amount == self.paid else to_money(self.bonus * amount / self.paid)
            assert -e.bonus == expected_bonus
            self.paid += e.paid
            self.bonus += e.bonus

    @invariant()
    def caches_match_ledger_and_model(self):
        if not hasattr(self, "member"):
            return
        a = StoredValueAccount.objects.filter(member=self.member, is_open=True).first()
        if a is None:
            assert self.paid == self.bonus == 0
            return
        entries = StoredValueEntry.objects.filter(account=a)
        assert a.paid_balance == sum(entries.values_list("paid", flat=True)) == self.paid >= 0
        assert a.bonus_balance == sum(entries.values_list("bonus", flat=True)) == self.bonus >= 0
        if a.paid_balance == 0:
            # With nothing paid left, no refund can have left a bonus behind it.
            assert not entries.filter(kind="refund", paid_after=0, bonus_after__gt=0).exists()


@pytest.mark.django_db
def test_stored_value_state_machine():
    StoredValueMachine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    StoredValueMachine.TestCase().runTest()
