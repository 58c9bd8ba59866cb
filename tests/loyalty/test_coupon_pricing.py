"""Coupons at checkout, end to end through loyalty and appointments' pricing:

- an item-limited (or free-item) coupon takes its amount only off its eligible lines, spread
  in proportion when there are several, never more than their subtotal;
- a coupon that may not be combined with the tier discount is priced both ways and the
  better one for the member wins, with the reason on the checkout page and the receipt;
  an unused coupon stays valid.
"""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.urls import reverse

from loyalty import coupons, services
from loyalty.coupon_models import Coupon, CouponKind, CouponTemplate
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    prev = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    endo = ServiceCategoryFactory(code="ENDO", name="牙体牙髓")
    return {
        "cleaning": ServiceItemFactory(code="PV01", name="超声洁牙", category=prev, price="280.00"),
        "fluoride": ServiceItemFactory(code="PV03", name="涂氟", category=prev, price="100.00"),
        "filling": ServiceItemFactory(code="EN01", name="树脂补牙", category=endo, price="400.00"),
    }


def template(name: str, *, items=(), **kw) -> CouponTemplate:
    kw.setdefault("kind", CouponKind.AMOUNT)
    t = CouponTemplate.objects.create(name=name, per_member_limit=0, **kw)
    t.items.set(items)
    return t


@pytest.fixture
def visit_for(branch, front_desk, catalogue):
    """An arrived, in-treatment visit of a person (optionally enrolled) with charge lines."""
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    from appointments import checkout
    from appointments import services as appt
    from tests.appointments.factories import at, book, make_doctor

    doctor = make_doctor(branch, "doc_chen", "陈医生")

    def make(*codes: str, member_kwargs=None, enrol=False):
        with time_machine.travel(at(0, 8), tick=False):
            member = make_member(branch, **(member_kwargs or {"name": "张三", "phone": "13900001111"}))
            if enrol:
                services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)
            a = book(front_desk, branch, member, catalogue[codes[0]], doctor, at(0, 10))
            appt.appointment_check_in(actor=front_desk, appointment=a)
            visit = appt.appointment_start_treatment(actor=front_desk, appointment=a).visit
            for code in codes:
                checkout.charge_line_add(actor=front_desk, visit=visit, item=catalogue[code])
        return member, visit

    return make


def net_by_item(visit) -> dict[str, Decimal]:
    return {line.item.code: line.net_amount for line in visit.lines.select_related("item")}


def test_an_item_limited_coupon_is_spread_over_its_items_only(visit_for, front_desk, manager, catalogue):
    from appointments import checkout

    member, visit = visit_for("cleaning", "fluoride", "filling")
    t = template(
        "洁牙补牙减100", amount_off=Decimal("100"), items=[catalogue["cleaning"], catalogue["filling"]]
    )
    c = coupons.coupon_issue(actor=manager, template=t, member=member)
    v = checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("cash", Decimal("680.00"))],
        checkout_key="k1",
        coupon_codes=[c.code],
    )
    # 100 in proportion 280 : 400 → 41.18 + 58.82; 涂氟, same category as 洁牙, untouched.
    assert net_by_item(v) == {
        "PV01": Decimal("238.82"),
        "PV03": Decimal("100.00"),
        "EN01": Decimal("341.18"),
    }
    assert v.amount_due == Decimal("680.00")


def test_an_item_limited_coupon_never_exceeds_its_items(visit_for, front_desk, manager, catalogue):
    from appointments import checkout

    member, visit = visit_for("cleaning", "fluoride")
    t = template("洁牙减500", amount_off=Decimal("500"), items=[catalogue["cleaning"]])
    c = coupons.coupon_issue(actor=manager, template=t, member=member)
    v = checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("cash", Decimal("100.00"))],
        checkout_key="k1",
        coupon_codes=[c.code],
    )
    assert net_by_item(v) == {"PV01": Decimal("0.00"), "PV03": Decimal("100.00")}


def test_a_free_item_coupon_frees_that_item_not_its_category(visit_for, front_desk, manager, catalogue):
    from appointments import checkout

    member, visit = visit_for("cleaning", "fluoride")
    t = template("免费涂氟", kind=CouponKind.FREE_ITEM, free_item=catalogue["fluoride"])
    c = coupons.coupon_issue(actor=manager, template=t, member=member)
    v = checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("cash", Decimal("280.00"))],
        checkout_key="k1",
        coupon_codes=[c.code],
    )
    assert net_by_item(v) == {"PV01": Decimal("280.00"), "PV03": Decimal("0.00")}


def test_a_coupon_not_combinable_with_the_tier_replaces_it_when_better(
    visit_for, front_desk, manager, catalogue
):
    """普通会员 has 5% off basic care: ¥14 on a ¥280 cleaning. A ¥50 coupon that excludes the
    tier discount is better, so it is used instead, and the receipt says so."""
    from appointments import checkout

    member, visit = visit_for("cleaning", enrol=True)
    t = template("满200减50（不与会员折扣同享）", amount_off=Decimal("50"), with_tier_discount=False)
    c = coupons.coupon_issue(actor=manager, template=t, member=member)
    v = checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("cash", Decimal("230.00"))],
        checkout_key="k1",
        coupon_codes=[c.code],
    )
    assert v.amount_due == Decimal("230.00")
    assert not v.discounts.filter(kind="tier").exists()
    [note] = v.pricing_notes
    assert "50.00" in note and "14.00" in note
    assert not v.discounts.filter(amount=0).exists()  # a note is not a discount row
    c.refresh_from_db()
    assert c.used_source == f"visit:{v.pk}"


def test_the_tier_discount_stays_when_better_and_the_coupon_is_not_used(
    client_for, visit_for, front_desk, manager, catalogue
):
    from appointments import checkout

    member, visit = visit_for("cleaning", enrol=True)
    t = template("减10（不与会员折扣同享）", amount_off=Decimal("10"), with_tier_discount=False)
    c = coupons.coupon_issue(actor=manager, template=t, member=member)
    v = checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("cash", Decimal("266.00"))],
        checkout_key="k1",
        coupon_codes=[c.code],
    )
    assert v.amount_due == Decimal("266.00")  # 280 − 5%
    c.refresh_from_db()
    assert c.used_at is None  # the member keeps it for another visit
    receipt = client_for(front_desk).get(reverse("appointments:receipt", args=[v.pk])).content.decode()
    assert "receipt-note" in receipt and "14.00" in receipt and "10.00" in receipt


def test_the_visit_page_previews_coupons_and_explains(client_for, visit_for, front_desk, manager):
    member, visit = visit_for("cleaning", enrol=True)
    t = template("满200减50（不与会员折扣同享）", amount_off=Decimal("50"), with_tier_discount=False)
    c = coupons.coupon_issue(actor=manager, template=t, member=member)
    client = client_for(front_desk)
    url = reverse("appointments:visit", args=[visit.pk])
    page = client.get(url, {"coupons": coupons.code_format(c.code).lower()}).content.decode()
    assert 'data-testid="price-note"' in page and "¥230.00" in page
    assert f'value="{coupons.code_format(c.code)}"' in page  # the checkout form is prefilled
    bad = client.get(url, {"coupons": "NOT-A-CODE"})
    assert bad.status_code == 200
    html = bad.content.decode()
    assert 'data-testid="coupon-error"' in html and "¥266.00" in html  # the price without it
    assert Coupon.objects.get(pk=c.pk).used_at is None


def test_a_coupon_over_several_lines_is_one_row_on_the_page_and_the_receipts(
    client_for, visit_for, front_desk, manager, catalogue
):
    """满300减50 over three lines: the page, the receipt and its PDF show one −¥50.00 row whose
    label does not repeat the word 优惠券; the per-line split stays in VisitDiscount."""
    from appointments import checkout

    member, visit = visit_for("cleaning", "fluoride", "filling")
    c = coupons.coupon_issue(
        actor=manager,
        template=template("满300减50", amount_off=Decimal("50"), min_spend=Decimal("300")),
        member=member,
    )
    code = coupons.code_format(c.code)
    client = client_for(front_desk)
    page = client.get(reverse("appointments:visit", args=[visit.pk]), {"coupons": code}).content.decode()
    assert page.count('data-testid="discount-row"') == 1 and "-¥50.00" in page
    v = checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("cash", Decimal("730"))],
        checkout_key="k",
        coupon_codes=[code],
    )
    assert v.discounts.filter(kind="coupon").count() == 3  # one part per line
    assert sum(d.amount for d in v.discounts.all()) == Decimal("50.00")
    receipt = client.get(reverse("appointments:receipt", args=[v.pk])).content.decode()
    assert receipt.count('data-testid="receipt-discount"') == 1
    assert "-¥50.00" in receipt and "优惠券 · 优惠券" not in receipt and "满300减50" in receipt
    from django.template.loader import render_to_string

    from appointments.pricing import discount_rows

    pdf_html = render_to_string(
        "appointments/receipt_pdf.html",
        {"visit": v, "lines": v.lines.all(), "discounts": discount_rows(v.discounts.all()), "payments": []},
    )
    assert pdf_html.count('data-testid="receipt-discount"') == 1
