"""Printing a coupon batch in admin: it works (no 500 while admin logs it), and it prints only
for a branch the actor works at, handed to a marketer of that branch."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import Role
from loyalty import coupons
from loyalty.coupon_models import CouponBatch, CouponTemplate
from loyalty.errors import LoyaltyError
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(db):
    return CouponTemplate.objects.create(name="满300减50", kind="amount", amount_off="50", min_spend="300")


def test_a_manager_prints_a_batch_in_admin(manager, marketer, template, branch, client_for):
    response = client_for(manager).post(
        reverse("admin:loyalty_couponbatch_add"),
        {"template": template.pk, "name": "地推", "branch": branch.pk, "marketer": marketer.pk, "count": 5},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    batch = CouponBatch.objects.get()
    assert (batch.start_no, batch.end_no, batch.coupons.count()) == (1, 5, 5)


def test_the_add_form_offers_only_the_own_branch_and_its_marketers(
    manager, marketer, staff_factory, other_branch, template, client_for
):
    stranger = make_staff(Role.MARKETING, [other_branch], username="pd_marketer")
    desk = staff_factory(Role.FRONT_DESK, username="desk2")
    page = client_for(manager).get(reverse("admin:loyalty_couponbatch_add")).content.decode()
    assert other_branch.name not in page
    assert f'value="{marketer.pk}"' in page
    assert f'value="{stranger.pk}"' not in page and f'value="{desk.pk}"' not in page


def test_the_service_refuses_another_branch_and_a_marketer_of_another_branch(
    manager, marketer, branch, other_branch, template
):
    stranger = make_staff(Role.MARKETING, [other_branch], username="pd_marketer")
    with pytest.raises(LoyaltyError) as err:
        coupons.coupon_batch_create(
            actor=manager, template=template, count=3, name="x", branch=other_branch, channel="地推"
        )
    assert err.value.field == "branch"
    with pytest.raises(LoyaltyError) as err:
        coupons.coupon_batch_create(
            actor=manager, template=template, count=3, name="x", branch=branch, marketer=stranger
        )
    assert err.value.field == "marketer"
    assert not CouponBatch.objects.exists()


def test_a_refused_batch_shows_the_reason_on_the_form(manager, staff_factory, branch, template, client_for):
    desk = staff_factory(Role.FRONT_DESK, username="desk2")
    response = client_for(manager).post(
        reverse("admin:loyalty_couponbatch_add"),
        {"template": template.pk, "name": "地推", "branch": branch.pk, "marketer": desk.pk, "count": 5},
    )
    assert response.status_code == 200
    assert not CouponBatch.objects.exists()


def test_a_batch_names_itself_before_it_is_printed():
    assert str(CouponBatch(name="未印制")) == "未印制"
