"""Real PostgreSQL, real threads: concurrent spends of one stored value never overdraw it,
and the same top-up from many threads credits once."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model

from loyalty import services
from loyalty.errors import LoyaltyError
from loyalty.models import StoredValueAccount, StoredValueEntry, StoredValueKind
from tests.members.factories import make_member

from .test_concurrency import _run


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("sv-threads", password="x")


@pytest.mark.django_db(transaction=True)
def test_threads_spending_one_balance_never_overdraw(branch, root):
    member = make_member(branch, name="并发储值")
    services.stored_value_top_up(
        actor=root, member=member, amount=D("100"), method="cash", idempotency_key="t"
    )

    results = _run(
        12,
        lambda i: services.stored_value_spend(
            actor=None, member=member, amount=D("30"), idempotency_key=f"visit:{i}:stored_value"
        ),
    )
    ok = [r for r in results if isinstance(r, StoredValueEntry)]
    refused = [r for r in results if isinstance(r, LoyaltyError)]
    assert len(ok) + len(refused) == 12, results
    assert len(ok) == 3  # 3 × 30 fit in 100; the rest see the locked, lowered balance
    account = StoredValueAccount.objects.get(member=member)
    assert account.paid_balance == D("10") and account.bonus_balance == 0
    assert StoredValueEntry.objects.filter(kind=StoredValueKind.SPEND).count() == 3
    assert services.stored_value_drift_rows() == []


@pytest.mark.django_db(transaction=True)
def test_the_same_top_up_from_many_threads_credits_once(branch, root):
    member = make_member(branch, name="重复点击")
    results = _run(
        8,
        lambda i: services.stored_value_top_up(
            actor=root, member=member, amount=D("500"), method="cash", idempotency_key="top_up:same"
        ),
    )
    assert all(isinstance(r, StoredValueEntry) for r in results), results
    assert StoredValueAccount.objects.get(member=member).paid_balance == D("500")
    assert StoredValueEntry.objects.filter(idempotency_key="top_up:same").count() == 1
