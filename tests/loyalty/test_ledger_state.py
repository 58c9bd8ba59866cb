"""A hypothesis state machine over the ledger: whatever sequence of earns, redemptions,
adjustments, reversals, retries and expiry runs, the invariants hold."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from loyalty import services
from loyalty.errors import LoyaltyError
from loyalty.models import LotConsumption, PointsAccount, PointsEntry, PointsLot
from tests.clinic.factories import BranchFactory

from .factories import enrolled


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.n = 0
        branch = BranchFactory(code="HY")
        self.member = enrolled(branch, name=f"属性{PointsAccount.objects.count()}").member
        self.admin, _ = get_user_model().objects.get_or_create(
            username="hypo-root", defaults={"is_superuser": True}
        )
        self.expected = 0  # the model: points the member should hold
        self.earn_keys: list[str] = []

    def _key(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}:{self.member.pk}:{self.n}"

    @rule(points=st.integers(1, 500), days_ago=st.integers(0, 500))
    def earn(self, points, days_ago):
        key = self._key("earn")
        services.points_earn(
            actor=None,
            member=self.member,
            points=points,
            idempotency_key=key,
            earned_at=timezone.now() - dt.timedelta(days=days_ago),
        )
        self.earn_keys.append(key)
        self.expected += points

    @precondition(lambda self: self.earn_keys)
    @rule(data=st.data())
    def retry_earn(self, data):
        key = data.draw(st.sampled_from(self.earn_keys))
        entry = PointsEntry.objects.get(idempotency_key=key)
        again = services.points_earn(actor=None, member=self.member, points=entry.points, idempotency_key=key)
        assert again.pk == entry.pk  # nothing changes

    @rule(points=st.integers(1, 800))
    def redeem(self, points):
        try:
            services.points_redeem(
                actor=None, member=self.member, points=points, idempotency_key=self._key("r")
            )
        except LoyaltyError:
            assert points > self.expected
        else:
            self.expected -= points

    @rule(points=st.integers(-300, 300).filter(bool))
    def adjust(self, points):
        try:
            services.points_adjust(actor=self.admin, member=self.member, points=points, reason="prop")
        except LoyaltyError:
            assert points < 0 and -points > self.expected
        else:
            self.expected += points

    @precondition(lambda self: self.earn_keys)
    @rule(data=st.data())
    def reverse(self, data):
        key = data.draw(st.sampled_from(self.earn_keys))
        entry = services.points_reverse(actor=None, earn_key=key)
        if entry.was_created:
            self.expected += entry.points  # negative; a shortfall is recorded, not lost
            assert -entry.points + entry.shortfall == PointsEntry.objects.get(idempotency_key=key).points

    @rule()
    def expire(self):
        # The job is chain-wide; earlier examples' members share the database.
        before = set(
            PointsEntry.objects.filter(account__member=self.member, kind="expire").values_list(
                "pk", flat=True
            )
        )
        services.points_expire_due()
        new = PointsEntry.objects.filter(account__member=self.member, kind="expire").exclude(pk__in=before)
        self.expected += sum(new.values_list("points", flat=True))
        assert not PointsLot.objects.filter(
            account__member=self.member, remaining__gt=0, expires_on__lt=timezone.localdate()
        ).exists()

    @invariant()
    def balance_matches_ledger_and_lots(self):
        if not hasattr(self, "member"):
            return
        account = PointsAccount.objects.get(member=self.member, is_open=True)
        entries = sum(PointsEntry.objects.filter(account=account).values_list("points", flat=True))
        lots = sum(PointsLot.objects.filter(account=account).values_list("remaining", flat=True))
        assert account.balance == entries == lots == self.expected >= 0

    @invariant()
    def consumptions_match_entries(self):
        if not hasattr(self, "member"):
            return
        for entry in PointsEntry.objects.filter(account__member=self.member, kind__in=["redeem", "reverse"]):
            taken = sum(LotConsumption.objects.filter(entry=entry).values_list("points", flat=True))
            assert taken == -entry.points


@pytest.mark.django_db
def test_ledger_state_machine():
    LedgerMachine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    LedgerMachine.TestCase().runTest()
