"""Member-day prices (会员日特价) at checkout, and editing a campaign."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments import checkout, services
from appointments.models import VisitDiscount
from appointments.pricing import LineInput, PriceRule, PricingInput, price
from clinic.models import AuditLog
from loyalty.services.enrolment import membership_enrol
from marketing import campaign_prices, campaigns
from marketing.errors import MarketingError
from marketing.models import CampaignKind, CampaignSignup, SignupStatus
from tests.appointments.factories import at, book
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


def test_a_special_price_and_a_percentage_in_the_pure_pricing():
    lines = [LineInput(1, 10, 100, Decimal("400"), 2), LineInput(2, 20, 100, Decimal("100"), 1)]
    data = PricingInput(
        lines=lines,
        tier_percent={100: Decimal("10")},
        tier_label="金卡折扣",
        price_rules=[
            PriceRule("p1", "会员日特价：甲", 10, price=Decimal("300")),  # no tier on top
            PriceRule("p2", "会员日特价：甲", 20, percent_off=Decimal("20"), with_tier=True),
            PriceRule("p3", "会员日特价：乙", 20, percent_off=Decimal("10"), with_tier=True),  # less: loses
        ],
    )
    result = price(data)
    by_line = {(a.line_key, a.kind): a.amount for a in result.applied}
    assert by_line[(1, "promotion")] == Decimal("200.00")  # 2 × (400 − 300)
    assert (1, "tier") not in by_line  # the special price stands alone
    assert by_line[(2, "promotion")] == Decimal("20.00")
    assert by_line[(2, "tier")] == Decimal("8.00")  # 10 % of what is left (80)
    assert result.amount_due == Decimal("672.00")
    assert [r.ref for r in result.applied if r.kind == "promotion"] == ["p1", "p2"]


def test_a_rule_never_takes_a_line_below_zero_or_above_its_price():
    line = LineInput(1, 10, 100, Decimal("50"), 1)
    result = price(PricingInput(lines=[line], price_rules=[PriceRule("p", "x", 10, price=Decimal("80"))]))
    assert result.amount_due == Decimal("50.00")  # a "special" price above the list price does nothing
    result = price(
        PricingInput(lines=[line], price_rules=[PriceRule("p", "x", 10, percent_off=Decimal("150"))])
    )
    assert result.amount_due == Decimal("0.00")


@pytest.fixture
def filling(db):
    cat = ServiceCategoryFactory(code="ENDO", name="牙体牙髓")
    return ServiceItemFactory(code="EN01", name="树脂补牙", category=cat, price="400.00", duration_minutes=40)


@pytest.fixture
def member_day(marketer, branch, clock):
    now = timezone.now()
    return campaigns.campaign_create(
        actor=marketer,
        branch=branch,
        name="十二月会员日",
        kind=CampaignKind.MEMBER_DAY,
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(days=1),
    )


def _visit(front_desk, branch, person, service, doc):
    appt = book(front_desk, branch, person, service, doc, at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    return services.appointment_start_treatment(actor=front_desk, appointment=appt).visit


def test_checkout_applies_the_member_day_price_and_the_receipt_names_it(
    marketer, front_desk, branch, member_day, filling, service, doc, clock
):
    campaign_prices.campaign_price_set(
        actor=marketer, campaign=member_day, item=filling, price=Decimal("300")
    )
    assert AuditLog.objects.filter(
        action="marketing.campaign.price_set", target_id=str(member_day.pk)
    ).exists()
    person = make_member(branch, name="会员甲", phone="13900002222")
    membership_enrol(actor=front_desk, member=person, branch=branch)
    person.refresh_from_db()
    visit = _visit(front_desk, branch, person, service, doc)
    checkout.charge_line_add(actor=front_desk, visit=visit, item=filling, teeth=[36])
    _lines, quoted = checkout.quote(visit=visit)
    rows = {r.kind: r for r in quoted.discount_rows}
    assert rows["promotion"].amount == Decimal("100.00")
    assert rows["promotion"].label == "会员日特价：十二月会员日"
    filling_line = next(p for p in quoted.lines if p.line.item_id == filling.pk)
    assert not [d for d in quoted.applied if d.kind == "tier" and d.line_key == filling_line.line.key]
    done = checkout.visit_checkout(
        actor=front_desk, visit=visit, payments=[("cash", quoted.amount_due)], checkout_key="md1"
    )
    assert VisitDiscount.objects.get(visit=done, kind="promotion").amount == Decimal("100.00")


def test_members_only_prices_skip_a_lead_and_another_branch_or_day_gets_none(
    marketer, front_desk, branch, other_branch, member_day, filling, service, doc, clock
):
    campaign_prices.campaign_price_set(
        actor=marketer, campaign=member_day, item=filling, price=Decimal("300")
    )
    lead = make_member(branch, name="潜客乙", phone="13900003333")
    visit = _visit(front_desk, branch, lead, service, doc)
    checkout.charge_line_add(actor=front_desk, visit=visit, item=filling, teeth=[36])
    assert not [r for r in checkout.quote(visit=visit)[1].applied if r.kind == "promotion"]
    # Open to everyone: the lead gets it too.
    campaign_prices.campaign_price_set(
        actor=marketer, campaign=member_day, item=filling, price=Decimal("300"), members_only=False
    )
    assert [r.amount for r in checkout.quote(visit=visit)[1].applied if r.kind == "promotion"] == [
        Decimal("100.00")
    ]
    # Outside the campaign's days: the usual price.
    clock.move_to(at(3, 10))
    assert not [r for r in checkout.quote(visit=visit)[1].applied if r.kind == "promotion"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "price"),
        ({"price": Decimal("300"), "percent_off": Decimal("10")}, "price"),
        ({"price": Decimal("400")}, "price"),  # not below the list price
        ({"price": Decimal("-1")}, "price"),
        ({"percent_off": Decimal("0")}, "percent_off"),
        ({"percent_off": Decimal("101")}, "percent_off"),
    ],
)
def test_bad_prices_are_refused_with_the_field(marketer, member_day, filling, kwargs, field):
    with pytest.raises(MarketingError) as err:
        campaign_prices.campaign_price_set(actor=marketer, campaign=member_day, item=filling, **kwargs)
    assert err.value.field == field
    assert not member_day.prices.exists()


def test_another_branchs_marketer_cannot_set_a_price(outsider, member_day, filling):
    with pytest.raises(MarketingError):
        campaign_prices.campaign_price_set(
            actor=outsider, campaign=member_day, item=filling, price=Decimal("1")
        )


def test_the_campaign_page_sets_and_removes_a_price(client_for, marketer, member_day, filling):
    client = client_for(marketer)
    url = reverse("marketing:campaign_price_add", kwargs={"pk": member_day.pk})
    page = client.post(url, {"item": filling.pk, "price": "", "percent_off": ""}, follow=True)
    assert "请填写特价或减免百分比" in page.content.decode() and not member_day.prices.exists()
    client.post(url, {"item": filling.pk, "price": "299", "members_only": "on"})
    row = member_day.prices.get()
    assert row.price == Decimal("299.00") and row.members_only and not row.with_tier
    detail = client.get(reverse("marketing:campaign_detail", kwargs={"pk": member_day.pk})).content.decode()
    assert 'data-testid="campaign-prices"' in detail and "¥299.00" in detail
    remove = reverse("marketing:campaign_price_remove", kwargs={"pk": member_day.pk, "price_id": row.pk})
    client.post(remove)
    assert not member_day.prices.exists()
    assert AuditLog.objects.filter(action="marketing.campaign.price_removed").count() == 1


def test_editing_a_campaign_is_audited_and_more_places_promote_the_waiting_list(marketer, branch, clock):
    start = timezone.now() + dt.timedelta(days=2)
    c = campaigns.campaign_create(
        actor=marketer,
        branch=branch,
        name="讲座",
        kind=CampaignKind.TALK,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        capacity=1,
    )
    people = [make_member(branch, name=f"人{i}", phone=f"1390000400{i}") for i in range(3)]
    for p in people:
        campaigns.signup_create(actor=marketer, campaign=c, member=p)
    with pytest.raises(MarketingError) as err:
        campaigns.campaign_update(actor=marketer, campaign=c, capacity=0 + 1, ends_at=start)
    assert err.value.field == "ends_at"
    campaigns.campaign_update(actor=marketer, campaign=c, capacity=2, name="儿童讲座")
    statuses = dict(CampaignSignup.objects.filter(campaign=c).values_list("member_id", "status"))
    assert [statuses[p.pk] for p in people] == [
        SignupStatus.CONFIRMED,
        SignupStatus.CONFIRMED,
        SignupStatus.WAITING,
    ]
    log = AuditLog.objects.get(action="marketing.campaign.changed")
    assert log.changes == {"name": ["讲座", "儿童讲座"], "capacity": [1, 2]}
    with pytest.raises(MarketingError) as err:
        campaigns.campaign_update(actor=marketer, campaign=c, capacity=1)
    assert err.value.field == "capacity"
    c.refresh_from_db()
    assert c.capacity == 2


def test_the_edit_page_keeps_the_branch_and_saves(client_for, marketer, member_day):
    client = client_for(marketer)
    url = reverse("marketing:campaign_edit", kwargs={"pk": member_day.pk})
    page = client.get(url).content.decode()
    assert "十二月会员日" in page and "disabled" in page
    local = timezone.localtime(member_day.starts_at).strftime("%Y-%m-%dT%H:%M")
    end = timezone.localtime(member_day.ends_at).strftime("%Y-%m-%dT%H:%M")
    data = {
        "name": "十二月会员日（加场）",
        "kind": "member_day",
        "starts_at": local,
        "ends_at": end,
        "capacity": "50",
        "budget": "100",
        "reward_points": "0",
        "channels": "",
        "notes": "",
    }
    assert client.post(url, data).status_code == 302
    member_day.refresh_from_db()
    assert (member_day.name, member_day.capacity) == ("十二月会员日（加场）", 50)
