"""Issue 11 item 1's siblings: every field that carries an amount, points, a discount or a
price is bounded and permission-checked in the service, not only in the form or the admin
page. Configuration saves (record_save) need the model's permission and apply the model's
bounds; the reward redemption bounds its quantity."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from clinic.errors import ClinicError
from clinic.services import record_delete, record_save
from loyalty import rewards
from loyalty.coupon_models import CouponKind, CouponTemplate, RewardItem, RewardKind
from loyalty.models import BonusRule, EarnCategoryRate, PointsPolicy
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory

from .factories import earn, enrolled

pytestmark = pytest.mark.django_db


def test_a_price_changed_by_a_role_without_the_permission_is_refused(front_desk, hq_admin):
    item = ServiceItemFactory(code="PV01", price="280.00")
    item.price = Decimal("1.00")
    with pytest.raises(ClinicError) as refused:
        record_save(actor=front_desk, instance=item)
    assert refused.value.code == "forbidden"
    item.refresh_from_db()
    assert item.price == Decimal("280.00")
    item.price = Decimal("300.00")
    record_save(actor=hq_admin, instance=item)  # HQ may
    item.refresh_from_db()
    assert item.price == Decimal("300.00")
    with pytest.raises(ClinicError):
        record_delete(actor=front_desk, instance=item)


def test_points_policy_and_bonus_rules_are_bounded(hq_admin):
    policy = PointsPolicy.objects.get(pk=1)
    policy.welcome_points = settings.LOYALTY_MAX_POINTS_ADJUSTMENT + 1
    with pytest.raises(ValidationError) as too_many:
        record_save(actor=hq_admin, instance=policy)
    assert "welcome_points" in too_many.value.message_dict
    policy.refresh_from_db()
    policy.points_per_yuan = Decimal("150")
    with pytest.raises(ValidationError) as rate:
        record_save(actor=hq_admin, instance=policy)
    assert "points_per_yuan" in rate.value.message_dict
    bonus = BonusRule.objects.order_by("pk").first()
    bonus.points = 10_000_000
    with pytest.raises(ValidationError):
        record_save(actor=hq_admin, instance=bonus)
    category = ServiceCategoryFactory(code="IMPL")
    with pytest.raises(ValidationError):
        record_save(actor=hq_admin, instance=EarnCategoryRate(category=category, points_per_yuan=500))


def test_coupon_template_amounts_are_bounded(hq_admin):
    template = CouponTemplate(name="满300减500", kind=CouponKind.AMOUNT, amount_off=500, min_spend=300)
    with pytest.raises(ValidationError) as more_than_spend:
        record_save(actor=hq_admin, instance=template)
    assert "amount_off" in more_than_spend.value.message_dict
    negative = CouponTemplate(name="负上限", kind=CouponKind.PERCENT, percent_off=10, cap=-5)
    with pytest.raises(ValidationError) as capped:
        record_save(actor=hq_admin, instance=negative)
    assert "cap" in capped.value.message_dict
    record_save(
        actor=hq_admin,
        instance=CouponTemplate(name="满300减50", kind=CouponKind.AMOUNT, amount_off=50, min_spend=300),
    )


def test_a_reward_costs_at_least_one_point(hq_admin):
    with pytest.raises(ValidationError) as free:
        record_save(actor=hq_admin, instance=RewardItem(name="白送", kind=RewardKind.GIFT, points_cost=0))
    assert "points_cost" in free.value.message_dict


def test_redeeming_more_than_the_maximum_at_once_is_refused(branch, front_desk):
    from loyalty.errors import LoyaltyError

    member = enrolled(branch).member
    earn(member, 100_000, "bounds:earn")
    gift = RewardItem.objects.create(name="牙线", kind=RewardKind.GIFT, points_cost=10, stock=None)
    with pytest.raises(LoyaltyError):
        rewards.reward_redeem(actor=front_desk, member=member, item=gift, qty=rewards.MAX_QUANTITY + 1)
    assert rewards.reward_redeem(actor=front_desk, member=member, item=gift, qty=2).points == 20


def test_charges_and_checkout_need_their_permission_in_the_service(branch, marketer, front_desk):
    """The views check change_visit / checkout_visit; the services do too, so no other
    caller adds a charge or takes a payment for a role that may not."""
    from django.utils import timezone

    from appointments import checkout
    from appointments.errors import AppointmentError
    from appointments.models import Visit
    from tests.appointments.factories import make_doctor
    from tests.members.factories import make_member

    item = ServiceItemFactory(code="PV02", price="280.00")
    visit = Visit.objects.create(
        branch=branch,
        member=make_member(branch),
        doctor=make_doctor(branch, "doc_bounds"),
        opened_at=timezone.now(),
    )
    with pytest.raises(AppointmentError) as refused:
        checkout.charge_line_add(actor=marketer, visit=visit, item=item)
    assert refused.value.code == "forbidden"
    line = checkout.charge_line_add(actor=front_desk, visit=visit, item=item)
    with pytest.raises(AppointmentError):
        checkout.charge_line_remove(actor=marketer, line=line)
    with pytest.raises(AppointmentError) as no_checkout:
        checkout.visit_checkout(
            actor=marketer, visit=visit, payments=[("cash", Decimal("280.00"))], checkout_key="k1"
        )
    assert no_checkout.value.code == "forbidden"
