"""Races on the last of something: 50 threads redeem one coupon, 50 threads redeem the last
unit of a reward. Exactly one of each must win, and the points ledger must not drift.

    python -m benchmarks.coupons            # 50 + 50 racers
    python -m benchmarks.coupons --small    # the same (the race is the point, not the scale)

Ends with ``BENCH coupons coupon_racers=… coupon_redeemed=… reward_racers=…
reward_redeemed=… points_drift=…``.
"""

from __future__ import annotations

import threading
import time
import uuid

from benchmarks._common import bench_line, parser, setup_django

MARK = "coupon-bench"


def _people(n: int, branch):
    """``n`` enrolled members with at least 1000 points (created once, reused)."""
    from loyalty import services
    from loyalty.models import Membership
    from members import services as member_services
    from members.models import Member, Stage

    people = []
    for i in range(n):
        phone = f"1770000{i:04d}"
        member = Member.objects.filter(name=f"券基准{i}", phone=f"+86{phone}").first()
        if member is None:
            member = member_services.member_register(
                actor=None,
                branch=branch,
                name=f"券基准{i}",
                phone=phone,
                stage=Stage.PATIENT,
                allow_duplicate=True,
            )
        if not Membership.objects.filter(member=member).exists():
            services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)
        services.points_earn(actor=None, member=member, points=1000, idempotency_key=f"{MARK}:{uuid.uuid4()}")
        people.append(member)
    return people


def _race(n: int, fn) -> list:
    from django.db import connection

    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # a refusal is the expected outcome for all but one
            results[i] = exc
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


def main() -> None:
    args_parser = parser("Coupon and reward race benchmark")
    args_parser.add_argument("--racers", type=int, default=50)
    args = args_parser.parse_args()
    setup_django()

    from decimal import Decimal

    from clinic.models import Branch
    from loyalty import coupons, rewards, services
    from loyalty.coupon_models import Coupon, CouponKind, CouponTemplate, RewardItem, RewardKind
    from loyalty.errors import LoyaltyError

    branch, _ = Branch.objects.get_or_create(code="CB", defaults={"name": "卡券基准门店"})
    people = _people(args.racers, branch)
    template, _ = CouponTemplate.objects.get_or_create(
        name="基准券", defaults={"kind": CouponKind.AMOUNT, "amount_off": Decimal("10")}
    )
    # One printed bearer code: every racer may use it, only one can.
    code = coupons.code_new()
    Coupon.objects.create(code=code, template=template)
    start = time.perf_counter()
    results = _race(
        args.racers,
        lambda i: coupons.coupon_redeem(
            actor=None, code=code, member=people[i], source_key=f"{MARK}:{i}:{code}"
        ),
    )
    coupon_s = time.perf_counter() - start
    coupon_won = sum(isinstance(r, Coupon) for r in results)
    odd = [r for r in results if not isinstance(r, (Coupon, LoyaltyError))]
    print(
        f"coupon: {coupon_won} of {args.racers} won in {coupon_s:.2f}s; unexpected errors: {odd[:3]}",
        flush=True,
    )

    item = RewardItem.objects.create(
        name=f"基准礼品 {uuid.uuid4().hex[:6]}", kind=RewardKind.GIFT, points_cost=100, stock=1
    )
    start = time.perf_counter()
    results = _race(args.racers, lambda i: rewards.reward_redeem(actor=None, member=people[i], item=item))
    reward_s = time.perf_counter() - start
    reward_won = sum(not isinstance(r, Exception) for r in results)
    odd = [r for r in results if isinstance(r, Exception) and not isinstance(r, LoyaltyError)]
    item.refresh_from_db()
    print(
        f"reward: {reward_won} of {args.racers} won in {reward_s:.2f}s; stock left {item.stock}; "
        f"unexpected errors: {odd[:3]}",
        flush=True,
    )
    drift = len(services.ledger_drift_rows())
    bench_line(
        "coupons",
        coupon_racers=args.racers,
        coupon_redeemed=coupon_won,
        reward_racers=args.racers,
        reward_redeemed=reward_won,
        points_drift=drift,
    )


if __name__ == "__main__":
    main()
