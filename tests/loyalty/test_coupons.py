"""Coupons: codes and check character, every refusal reason, amounts, stacking, batches,
exactly-once use under concurrency, restore on void, checkout, and the views."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.urls import reverse

from clinic.models import AuditLog
from loyalty import auto_coupons, coupons
from loyalty.coupon_models import Coupon, CouponEvent, CouponKind, CouponTemplate
from loyalty.coupons import Cart, CartLine, CouponError
from loyalty.errors import LoyaltyError
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.members.factories import make_member
from tests.pdf_checks import pdf_pages, render_without_system_fonts

from .test_concurrency import _run

pytestmark = pytest.mark.django_db


@pytest.fixture
def cats(db):
    return (
        ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True),
        ServiceCategoryFactory(code="ENDO", name="牙体牙髓"),
    )


@pytest.fixture
def items(cats):
    return (
        ServiceItemFactory(code="PV01", name="超声洁牙", category=cats[0], price="280.00"),
        ServiceItemFactory(code="EN01", name="树脂补牙", category=cats[1], price="400.00"),
    )


def tpl(**kw) -> CouponTemplate:
    defaults = {"name": "满300减50", "kind": CouponKind.AMOUNT, "amount_off": Decimal("50")}
    defaults.update(kw)
    cats = defaults.pop("categories", [])
    its = defaults.pop("items_", [])
    t = CouponTemplate.objects.create(**defaults)
    t.categories.set(cats)
    t.items.set(its)
    return t


def lines(*pairs, tier="0"):
    return [
        CartLine(
            item_id=i.pk,
            category_id=i.category_id,
            unit_price=Decimal(i.price),
            quantity=q,
            tier_percent=Decimal(tier),
        )
        for i, q in pairs
    ]


def issue(template, member, manager):
    return coupons.coupon_issue(actor=manager, template=template, member=member)


def reason(code, member, cart):
    with pytest.raises(CouponError) as err:
        coupons.coupon_validate(code, member=member, cart=cart)
    return err.value.code


# --- codes -------------------------------------------------------------------------------


def test_codes_use_the_unambiguous_alphabet_and_a_check_character():
    for _i in range(200):
        code = coupons.code_new()
        assert len(code) == 10 and not set(code) & set("01OIL")
        assert coupons.code_normalise(coupons.code_format(code).lower()) == code
    code = coupons.code_new()
    body, check = code[:-1], code[-1]
    # every single substitution and every swap of neighbours is caught
    for i in range(len(code)):
        for ch in coupons.ALPHABET:
            if ch != code[i]:
                bad = code[:i] + ch + code[i + 1 :]
                with pytest.raises(CouponError):
                    coupons.code_normalise(bad)
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            with pytest.raises(CouponError):
                coupons.code_normalise(swapped)
    assert coupons.check_char(body) == check


def test_a_typo_is_refused_before_the_database_is_asked(django_assert_num_queries):
    code = coupons.code_new()
    bad = code[:-1] + next(c for c in coupons.ALPHABET if c != code[-1])
    with django_assert_num_queries(0), pytest.raises(CouponError) as err:
        coupons.coupon_validate(bad, member=None, cart=Cart(lines=[]))
    assert err.value.code == "typo"
    with django_assert_num_queries(0), pytest.raises(CouponError):
        coupons.code_normalise("ABC1O0IL22")


# --- refusal reasons --------------------------------------------------------------------------


def test_every_refusal_reason(branch, manager, items, cats):
    cleaning, filling = items
    me, other = make_member(branch, name="王芳"), make_member(branch, name="李雷", phone="13900002222")
    cart = Cart(lines=lines((cleaning, 1), (filling, 1)))
    unknown = coupons.code_new()
    assert reason(unknown, me, cart) == "unknown"

    c = issue(tpl(), me, manager)
    assert reason(c.code, other, cart) == "not_yours"
    Coupon.objects.filter(pk=c.pk).update(valid_from=dt.date.today() + dt.timedelta(days=3))
    assert reason(c.code, me, cart) == "not_yet_valid"
    Coupon.objects.filter(pk=c.pk).update(valid_from=None, valid_until=dt.date.today() - dt.timedelta(days=1))
    assert reason(c.code, me, cart) == "expired"
    Coupon.objects.filter(pk=c.pk).update(valid_until=None)

    minimum = issue(tpl(name="满1000减100", min_spend=Decimal("1000")), me, manager)
    assert reason(minimum.code, me, cart) == "min_spend"
    only_endo = issue(tpl(name="补牙券", categories=[cats[1]]), me, manager)
    assert reason(only_endo.code, me, Cart(lines=lines((cleaning, 1)))) == "not_eligible"
    only_item = issue(tpl(name="洁牙券", items_=[cleaning]), me, manager)
    assert reason(only_item.code, me, Cart(lines=lines((filling, 1)))) == "not_eligible"

    coupons.coupon_redeem(actor=manager, code=c.code, member=me, source_key="visit:1")
    assert reason(c.code, me, cart) == "used"

    a = issue(tpl(name="A"), me, manager)
    b = issue(tpl(name="B", stackable=True), me, manager)
    both = Cart(lines=cart.lines, other_codes=[a.code, b.code])
    assert reason(a.code, me, both) == "not_stackable"  # A itself is not stackable
    assert reason(b.code, me, both) == "not_stackable"  # B is, but A is not

    # Not combinable with the tier discount is no refusal: priced at list price, and
    # pricing picks the better of the two (tests/loyalty/test_coupon_pricing.py).
    no_tier = issue(tpl(name="非会员价", with_tier_discount=False), me, manager)
    offer = coupons.coupon_validate(no_tier.code, member=me, cart=Cart(lines=lines((cleaning, 1), tier="10")))
    assert offer.with_tier is False and offer.amount == Decimal("50.00")

    limit_tpl = tpl(name="限用一次", per_member_limit=1)
    first = issue(limit_tpl, me, manager)
    coupons.coupon_redeem(actor=manager, code=first.code, member=me, source_key="visit:2")
    second = Coupon.objects.create(code=coupons.code_new(), template=limit_tpl, member=me)
    assert reason(second.code, me, cart) == "limit"


def test_reasons_are_in_chinese(branch, manager, items, settings):
    me = make_member(branch, name="王芳")
    c = issue(tpl(min_spend=Decimal("5000")), me, manager)
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(CouponError) as err:
        coupons.coupon_validate(c.code, member=me, cart=Cart(lines=lines((items[0], 1))))
    assert "¥5,000.00" in str(err.value.message)


def test_stackable_coupons_stack(branch, manager, items):
    me = make_member(branch, name="王芳")
    a = issue(tpl(name="A", stackable=True), me, manager)
    b = issue(tpl(name="B", stackable=True, amount_off=Decimal("20")), me, manager)
    offers = coupons.coupons_validate([a.code, b.code], member=me, lines=lines((items[1], 1)))
    assert [o.amount for o in offers] == [Decimal("50.00"), Decimal("20.00")]
    with pytest.raises(CouponError) as err:
        coupons.coupons_validate([a.code, a.code], member=me, lines=lines((items[1], 1)))
    assert err.value.code == "duplicate"


# --- amounts --------------------------------------------------------------------------------


def test_percentage_with_cap_and_half_up_rounding(branch, manager, items):
    cleaning, filling = items
    me = make_member(branch, name="王芳")
    pct = tpl(name="88折", kind=CouponKind.PERCENT, amount_off=0, percent_off=Decimal("12.5"))
    offer = coupons.coupon_validate(
        issue(pct, me, manager).code, member=me, cart=Cart(lines=lines((cleaning, 1)))
    )
    assert offer.amount == Decimal("35.00")  # 280 × 12.5%
    odd = CartLine(item_id=cleaning.pk, category_id=cleaning.category_id, unit_price=Decimal("99.99"))
    assert coupons.coupon_amount(pct, [odd]) == Decimal("12.50")  # 12.49875 → 12.50 half-up
    pct.cap = Decimal("40")
    pct.save()
    assert coupons.coupon_amount(pct, lines((filling, 2))) == Decimal("40.00")  # 100 capped at 40
    # the tier discount comes first: 12.5% of 280 less 10%
    assert coupons.coupon_amount(pct, lines((cleaning, 1), tier="10")) == Decimal("31.50")
    big = tpl(name="减1000", amount_off=Decimal("1000"))
    assert coupons.coupon_amount(big, lines((cleaning, 1))) == Decimal("280.00")  # never above the bill


def test_free_item_takes_one_unit(branch, manager, items):
    cleaning, filling = items
    free = tpl(name="免费洁牙", kind=CouponKind.FREE_ITEM, amount_off=0, free_item=cleaning)
    assert coupons.coupon_amount(free, lines((cleaning, 2))) == Decimal("280.00")
    me = make_member(branch, name="王芳")
    assert reason(issue(free, me, manager).code, me, Cart(lines=lines((filling, 1)))) == "not_eligible"


# --- issue and batches ----------------------------------------------------------------------


def test_issue_needs_permission_is_audited_and_respects_the_limit(branch, manager, front_desk):
    me = make_member(branch, name="王芳")
    t = tpl(valid_days=30)
    with pytest.raises(LoyaltyError) as err:
        coupons.coupon_issue(actor=front_desk, template=t, member=me)
    assert err.value.code == "forbidden"
    c = issue(t, me, manager)
    assert c.valid_until - c.valid_from == dt.timedelta(days=29)
    assert AuditLog.objects.filter(action="loyalty.coupon.issued").count() == 1
    with pytest.raises(LoyaltyError):
        issue(t, me, manager)
    again = coupons.coupon_issue(actor=None, template=tpl(name="推荐"), member=me, issue_key="k", system=True)
    assert (
        coupons.coupon_issue(actor=None, template=again.template, member=me, issue_key="k", system=True)
        == again
    )


def test_batches_take_consecutive_ranges_for_a_marketer_or_channel(branch, manager, marketer):
    t = tpl()
    one = coupons.coupon_batch_create(
        actor=marketer, template=t, count=50, name="地推", branch=branch, marketer=marketer
    )
    two = coupons.coupon_batch_create(
        actor=manager, template=t, count=20, name="大众点评", branch=branch, channel="点评"
    )
    assert (one.start_no, one.end_no, two.start_no, two.end_no) == (1, 50, 51, 70)
    serials = sorted(Coupon.objects.filter(batch=two).values_list("serial", flat=True))
    assert serials == list(range(51, 71))
    for code in Coupon.objects.filter(batch=one).values_list("code", flat=True):
        assert coupons.code_normalise(code) == code
    with pytest.raises(LoyaltyError):
        coupons.coupon_batch_create(
            actor=manager, template=t, count=5, name="x", branch=branch
        )  # nobody named


def test_a_printed_code_binds_to_whoever_uses_it(branch, manager, marketer, items):
    t = tpl()
    batch = coupons.coupon_batch_create(
        actor=marketer, template=t, count=2, name="地推", branch=branch, marketer=marketer
    )
    code = batch.coupons.first().code
    me, other = make_member(branch, name="王芳"), make_member(branch, name="李雷", phone="13900002222")
    cart = Cart(lines=lines((items[1], 1)))
    coupons.coupon_validate(code, member=other, cart=cart)
    coupons.coupon_redeem(actor=manager, code=code, member=me, source_key="visit:9")
    assert reason(code, other, cart) == "used"
    stats = coupons.batch_stats(batch_ids=[batch.pk])
    assert (stats[0].issued, stats[0].redeemed) == (2, 1)


# --- use, concurrency, restore ------------------------------------------------------------


def test_redeem_once_restore_on_void_idempotent(branch, manager):
    me = make_member(branch, name="王芳")
    c = issue(tpl(), me, manager)
    coupons.coupon_redeem(actor=manager, code=c.code, member=me, source_key="visit:1")
    coupons.coupon_redeem(actor=manager, code=c.code, member=me, source_key="visit:1")  # retry
    with pytest.raises(CouponError):
        coupons.coupon_redeem(actor=manager, code=c.code, member=me, source_key="visit:2")
    assert coupons.coupon_restore(actor=manager, source_key="visit:1") == 1
    assert coupons.coupon_restore(actor=manager, source_key="visit:1") == 0
    c.refresh_from_db()
    assert c.used_at is None
    assert list(CouponEvent.objects.filter(coupon=c).values_list("kind", flat=True)) == ["use", "restore"]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_redemptions_one_wins(branch):
    from loyalty.coupons import coupon_issue

    me = make_member(branch, name="王芳")
    c = coupon_issue(actor=None, template=tpl(), member=me, issue_key="race", system=True)

    def redeem(i: int):
        return coupons.coupon_redeem(actor=None, code=c.code, member=me, source_key=f"visit:{i}")

    results = _run(8, redeem)
    assert sum(isinstance(r, Coupon) for r in results) == 1
    assert all(isinstance(r, CouponError) for r in results if not isinstance(r, Coupon))
    assert CouponEvent.objects.filter(coupon=c).count() == 1
    connection.close()


# --- checkout (appointments) --------------------------------------------------------------


@pytest.fixture
def checkout_world(branch, front_desk, items):
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    from tests.appointments.factories import at, book, make_doctor

    with time_machine.travel(at(0, 8), tick=False):
        from appointments import services as appt

        me = make_member(branch, name="张三", phone="13900001111")
        doc = make_doctor(branch, "doc_chen", "陈医生")
        a = book(front_desk, branch, me, items[0], doc, at(0, 10))
        appt.appointment_check_in(actor=front_desk, appointment=a)
        a = appt.appointment_start_treatment(actor=front_desk, appointment=a)
        yield me, a.visit


def test_checkout_uses_a_coupon_and_void_restores_it(checkout_world, front_desk, manager, items):
    from appointments import checkout
    from appointments.errors import AppointmentError

    me, visit = checkout_world
    checkout.charge_line_add(actor=front_desk, visit=visit, item=items[0])
    c = issue(tpl(), me, manager)
    other = issue(tpl(name="满1000", min_spend=Decimal("1000")), me, manager)
    with pytest.raises(AppointmentError) as err:
        checkout.visit_checkout(
            actor=front_desk,
            visit=visit,
            payments=[("cash", Decimal("280"))],
            checkout_key="k0",
            coupon_codes=[other.code],
        )
    assert err.value.field == "coupons"
    v = checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("cash", Decimal("230"))],
        checkout_key="k1",
        coupon_codes=[c.code.lower()],
    )
    assert v.amount_due == Decimal("230.00")
    assert v.discounts.filter(kind="coupon", ref=f"coupon:{c.code}").exists()
    c.refresh_from_db()
    assert c.used_source == f"visit:{v.pk}"
    checkout.visit_void(actor=manager, visit=v, reason="收错")
    c.refresh_from_db()
    assert c.used_at is None


# --- views ----------------------------------------------------------------------------------


def test_issue_view_permissions(client_for, branch, manager, front_desk, outsider):
    me = make_member(branch, name="王芳")
    t = tpl()
    url = reverse("loyalty:coupon_issue", args=[me.pk])
    assert client_for(outsider).post(url, {"template": t.pk}).status_code == 404
    assert client_for(front_desk).post(url, {"template": t.pk}).status_code == 403
    r = client_for(manager).post(url, {"template": t.pk, "reason": "投诉补偿"})
    assert r.status_code == 302 and Coupon.objects.filter(member=me).count() == 1


def test_member_coupon_list_query_cap(client_for, branch, manager, front_desk, django_assert_max_num_queries):
    me = make_member(branch, name="王芳")
    for i in range(5):
        issue(tpl(name=f"T{i}"), me, manager)
    client = client_for(front_desk)
    with django_assert_max_num_queries(15):
        r = client.get(reverse("loyalty:coupons", args=[me.pk]))
    assert r.status_code == 200 and r.content.decode().count("coupon-row") == 5


def test_batch_pages_permissions_and_exports(
    client_for, branch, marketer, front_desk, outsider, manager, django_assert_max_num_queries
):
    t = tpl()
    batch = coupons.coupon_batch_create(
        actor=marketer, template=t, count=5, name="=HYPERLINK(1)", branch=branch, marketer=marketer
    )
    assert client_for(front_desk).get(reverse("loyalty:coupon_batches")).status_code == 403
    client = client_for(marketer)
    with django_assert_max_num_queries(14):
        r = client.get(reverse("loyalty:coupon_batches"))
    assert r.status_code == 200 and "HYPERLINK" in r.content.decode()
    x = client.get(reverse("loyalty:coupon_batch_xlsx", args=[batch.pk]))
    assert x.status_code == 200
    from io import BytesIO

    import openpyxl

    ws = openpyxl.load_workbook(BytesIO(x.content)).active
    values = [c.value for row in ws.iter_rows() for c in row]
    assert "'=HYPERLINK(1)" in values and not any(str(v).startswith("=") for v in values if v)
    assert client_for(outsider).get(reverse("loyalty:coupon_batch_xlsx", args=[batch.pk])).status_code in (
        403,
        404,
    )
    pdf = client.get(reverse("loyalty:coupon_batch_pdf", args=[batch.pk]))
    assert pdf.status_code == 200


def test_coupon_sheet_tickets_stand_alone_on_a_machine_without_cjk_fonts(
    client_for, branch, marketer, captured_html, tmp_path
):
    """Each ticket carries the clinic, the coupon, its offer (满¥300减¥50) and its code; three a
    row, whole rows only, so 30 tickets make two pages with no empty first page."""
    pytest.importorskip("weasyprint")
    t = tpl(min_spend=Decimal("300"))
    batch = coupons.coupon_batch_create(
        actor=marketer, template=t, count=30, name="开业季", branch=branch, marketer=marketer
    )
    r = client_for(marketer).get(reverse("loyalty:coupon_batch_pdf", args=[batch.pk]))
    assert r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    pages = pdf_pages(r.content)
    assert len(pages) == 2 and all(p.count(branch.name) >= 10 for p in pages)
    codes = [coupons.code_format(c) for c in batch.coupons.values_list("code", flat=True)]
    assert sum(code in p for code in codes for p in pages) == 30, "a code split across pages or missing"
    assert t.offer_text == "满¥300减¥50" and pages[0].count("满¥300减¥50") >= 15
    bare = render_without_system_fonts(tmp_path, **captured_html)
    for line in (branch.name, "开业季", "满¥300减¥50"):
        assert line in bare, f"{line!r} lost without system fonts"


def test_a_points_reward_service_is_used_at_checkout_and_restored_on_void(
    checkout_world, front_desk, manager, items
):
    from appointments import checkout
    from loyalty import rewards, services
    from loyalty.coupon_models import Entitlement, RewardItem, RewardKind

    me, visit = checkout_world
    services.membership_enrol(actor=None, member=me, branch=visit.branch, welcome_points=0)
    services.points_earn(actor=None, member=me, points=600, idempotency_key="t:earn")
    free = RewardItem.objects.create(
        name="免费洁牙", kind=RewardKind.SERVICE, points_cost=500, service_item=items[0]
    )
    rewards.reward_redeem(actor=front_desk, member=me, item=free)
    checkout.charge_line_add(actor=front_desk, visit=visit, item=items[0])
    v = checkout.visit_checkout(actor=front_desk, visit=visit, payments=[], checkout_key="k1")
    assert v.amount_due == Decimal("0.00")
    e = Entitlement.objects.get(member=me)
    assert e.used_source == f"visit:{v.pk}"
    checkout.visit_void(actor=manager, visit=v, reason="收错")
    e.refresh_from_db()
    assert e.used_at is None


def test_a_first_paid_visit_rewards_the_referral_and_a_void_reverses_it(
    checkout_world, branch, front_desk, manager, items
):
    from appointments import checkout
    from loyalty import referrals, services
    from loyalty.coupon_models import Referral, ReferralStatus
    from loyalty.models import PointsAccount

    me, visit = checkout_world
    services.membership_enrol(actor=None, member=me, branch=visit.branch, welcome_points=0)
    friend = make_member(branch, name="老客户", phone="13900007777")
    services.membership_enrol(actor=None, member=friend, branch=branch, welcome_points=0)
    referrals.referral_set(actor=front_desk, referee=me, referrer=friend)
    checkout.charge_line_add(actor=front_desk, visit=visit, item=items[0])
    v = checkout.visit_checkout(
        actor=front_desk, visit=visit, payments=[("cash", Decimal("266.00"))], checkout_key="k1"
    )
    assert Referral.objects.get(referee=me).status == ReferralStatus.REWARDED
    assert PointsAccount.objects.get(member=friend).balance > 0
    checkout.visit_void(actor=manager, visit=v, reason="收错")
    assert Referral.objects.get(referee=me).status == ReferralStatus.REVERSED
    assert PointsAccount.objects.get(member=friend).balance == 0


def test_seed_demo_adds_coupons_rewards_and_a_referral_idempotently():
    from django.core.management import call_command

    from loyalty.coupon_models import CouponBatch, Referral, RewardItem

    call_command("seed_demo", "--quiet")
    counts = (
        Coupon.objects.count(),
        CouponBatch.objects.count(),
        RewardItem.objects.count(),
        Referral.objects.count(),
    )
    call_command("seed_demo", "--quiet")
    assert counts == (
        Coupon.objects.count(),
        CouponBatch.objects.count(),
        RewardItem.objects.count(),
        Referral.objects.count(),
    )
    batch = CouponBatch.objects.get(marketer__username="marketing")
    assert batch.coupons.count() == 200 and counts[2] >= 4 and counts[3] == 1
    assert Coupon.objects.filter(member__isnull=False).count() >= 5
    # The demo's card holders hold their card: the loyalty tab shows the number the profile
    # shows (王芳 JA0001023), every card is in the one format, and search finds it.
    from loyalty.models import Membership
    from loyalty.services import card_is_valid
    from members.models import Member, Stage
    from members.selectors import member_search

    wang = Member.objects.get(name="王芳", card_no="JA0001023")
    assert Membership.objects.get(member=wang).card_no == "JA0001023"
    assert not Member.objects.filter(stage=Stage.MEMBER, membership__isnull=True).exists()
    assert all(card_is_valid(card) for card in Membership.objects.values_list("card_no", flat=True))
    from django.contrib.auth import get_user_model

    desk = get_user_model().objects.get(username="frontdesk")
    assert [m.pk for m in member_search(desk, "JA0001023")] == [wang.pk]


def test_a_welcome_coupon_is_issued_automatically_once(branch, settings):
    from loyalty import services

    settings.LOYALTY_AUTO_COUPONS = {"welcome": "新会员礼"}
    tpl(name="新会员礼")
    me = make_member(branch, name="王芳")
    m = services.membership_enrol(actor=None, member=me, branch=branch, welcome_points=0)
    assert Coupon.objects.filter(member=me, issue_key=f"welcome:enrol:{m.pk}").count() == 1
    assert (
        coupons.coupon_issue_auto(actor=None, member=me, trigger="welcome", key=f"enrol:{m.pk}") is not None
    )
    assert Coupon.objects.filter(member=me).count() == 1
    assert coupons.coupon_issue_auto(actor=None, member=me, trigger="birthday", key="2026") is None


def test_templates_and_rewards_check_the_fields_of_their_kind(items):
    from django.core.exceptions import ValidationError

    from loyalty.coupon_models import RewardItem, RewardKind

    for bad in (
        CouponTemplate(name="x", kind=CouponKind.AMOUNT),
        CouponTemplate(name="x", kind=CouponKind.PERCENT),
        CouponTemplate(name="x", kind=CouponKind.FREE_ITEM),
        CouponTemplate(
            name="x", kind=CouponKind.AMOUNT, amount_off=1, valid_days=3, valid_until=dt.date(2027, 1, 1)
        ),
        RewardItem(name="x", kind=RewardKind.SERVICE, points_cost=1),
        RewardItem(name="x", kind=RewardKind.COUPON, points_cost=1),
    ):
        with pytest.raises(ValidationError):
            bad.clean()
    CouponTemplate(name="x", kind=CouponKind.FREE_ITEM, free_item=items[0]).clean()


def test_birthday_coupons_once_a_year(branch, settings):
    from loyalty import services

    settings.LOYALTY_AUTO_COUPONS = {"birthday": "生日礼"}
    tpl(name="生日礼", per_member_limit=0)
    today = dt.date(2027, 3, 14)
    me = make_member(branch, name="王芳", birth_date=dt.date(1990, 3, 14))
    other = make_member(branch, name="李雷", phone="13900002222", birth_date=dt.date(1990, 3, 15))
    services.membership_enrol(actor=None, member=me, branch=branch, welcome_points=0)
    services.membership_enrol(actor=None, member=other, branch=branch, welcome_points=0)
    assert auto_coupons.coupons_birthday_issue(today=today) == 1
    assert auto_coupons.coupons_birthday_issue(today=today) == 0
    assert Coupon.objects.filter(member=me, issue_key=f"birthday:2027:{me.pk}").exists()
    assert not Coupon.objects.filter(member=other).exists()
