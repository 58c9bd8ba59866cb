"""Real PostgreSQL, real threads: redemptions of the same account never overdraw it and
never lose a point; concurrent earns with the same key credit once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from loyalty import services
from loyalty.errors import LoyaltyError
from loyalty.models import EntryKind, PointsEntry

from .factories import account, earn, enrolled, invariant_holds


def _run(threads: int, fn) -> list:
    barrier = threading.Barrier(threads)
    results: list = [None] * threads

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # recorded and asserted on below
            results[i] = exc
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_threads_redeeming_the_same_account_never_overdraw_and_never_lose(branch):
    m = enrolled(branch)
    for i in range(10):
        earn(m.member, 10, f"lot:{i}", days_ago=i)  # 100 points in 10 lots
    member = m.member

    def redeem(i: int):
        return services.points_redeem(actor=None, member=member, points=7, idempotency_key=f"r:{i}")

    results = _run(20, redeem)
    ok = [r for r in results if isinstance(r, PointsEntry)]
    refused = [r for r in results if isinstance(r, LoyaltyError)]
    assert len(ok) + len(refused) == 20, [r for r in results if not isinstance(r, PointsEntry | LoyaltyError)]
    assert len(ok) == 100 // 7  # 14 fit, 6 are refused
    assert account(member).balance == 100 - 7 * len(ok) == 2
    assert PointsEntry.objects.filter(kind=EntryKind.REDEEM).count() == len(ok)
    assert invariant_holds(member)


@pytest.mark.django_db(transaction=True)
def test_the_same_earn_from_many_threads_credits_once(branch):
    m = enrolled(branch)
    member = m.member
    results = _run(
        10,
        lambda i: services.points_earn(actor=None, member=member, points=30, idempotency_key="visit:1:earn"),
    )
    assert all(isinstance(r, PointsEntry) for r in results), results
    assert account(member).balance == 30
    assert PointsEntry.objects.filter(idempotency_key="visit:1:earn").count() == 1


@pytest.mark.django_db(transaction=True)
def test_expiry_job_racing_redemptions_keeps_the_ledger_whole(branch):
    m = enrolled(branch)
    member = m.member
    for i in range(20):
        earn(member, 10, f"old:{i}", days_ago=400)  # all due to expire
    for i in range(20):
        earn(member, 10, f"new:{i}", days_ago=1)

    def work(i: int):
        if i == 0:
            return services.points_expire_due()
        return services.points_redeem(actor=None, member=member, points=15, idempotency_key=f"r:{i}")

    _run(12, work)
    assert invariant_holds(member)
    assert not services.ledger_drift_rows()


@pytest.mark.django_db(transaction=True)
def test_expiry_job_on_several_connections_expires_each_lot_once(branch):
    """Outside a transaction the job spreads account batches over worker connections; the
    result is the same as one connection's: every due lot expired once, nothing else."""
    members = []
    for n in range(6):
        member = enrolled(branch, name=f"会员{n}", phone=f"+86138000010{n:02d}").member
        for i in range(3):
            earn(member, 10 + n, f"old:{n}:{i}", days_ago=400)
        earn(member, 5, f"new:{n}", days_ago=1)
        members.append(member)

    assert services.points_expire_due(batch=1, workers=3) == (18, sum(3 * (10 + n) for n in range(6)))
    assert services.points_expire_due(batch=1, workers=3) == (0, 0)
    for member in members:
        assert account(member).balance == 5
        assert invariant_holds(member)
    assert PointsEntry.objects.filter(kind=EntryKind.EXPIRE).count() == 18
    assert not services.ledger_drift_rows()
