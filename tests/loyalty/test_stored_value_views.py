"""The stored value tab, its forms and the liability report: happy paths, outsiders, roles
without the permission, bad input, query counts, the xlsx export."""

from __future__ import annotations

import io
from decimal import Decimal as D

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from clinic.models import AuditLog, Role
from loyalty import services
from loyalty.models import StoredValueAccount, StoredValueBonusRule, StoredValueEntry
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(branch):
    return make_member(branch, name="储值页面")


@pytest.fixture
def rule(db):
    return StoredValueBonusRule.objects.create(name="充1000送100", threshold=D("1000"), bonus=D("100"))


def tab(pk):
    return reverse("members:detail", args=[pk]) + "?tab=stored_value"


def test_front_desk_tops_up_from_the_tab_once_per_form(client_for, front_desk, person, rule):
    client = client_for(front_desk)
    html = client.get(tab(person.pk)).content.decode()
    assert 'data-testid="sv-top-up-form"' in html and 'data-testid="sv-refund-form"' not in html
    data = {
        "amount": "1000",
        "method": "wechat_pay",
        "reference": "WX123",
        "token": "6f1c9a3e-3b1e-4c55-9a4d-1a2b3c4d5e6f",
    }
    url = reverse("loyalty:stored_value_top_up", args=[person.pk])
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # a double click
    account = StoredValueAccount.objects.get(member=person)
    assert (account.paid_balance, account.bonus_balance) == (D("1000"), D("100"))
    html = client.get(tab(person.pk)).content.decode()
    assert "¥1,100.00" in html and "WX123" in html


@pytest.mark.parametrize("amount", ["abc", "-1", "0", "1.234", "999999999999"])
def test_bad_amounts_get_a_message_and_save_nothing(client_for, front_desk, person, amount):
    client = client_for(front_desk)
    url = reverse("loyalty:stored_value_top_up", args=[person.pk])
    data = {"amount": amount, "method": "cash", "token": "6f1c9a3e-3b1e-4c55-9a4d-1a2b3c4d5e6f"}
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert list(response.context["messages"])
    assert not StoredValueEntry.objects.exists()


def test_roles_without_top_up_are_refused(client_for, staff_factory, person):
    for role in (Role.DOCTOR, Role.NURSE, Role.CONSULTANT, Role.CUSTOMER_SERVICE):
        client = client_for(staff_factory(role, username=f"u-{role}"))
        url = reverse("loyalty:stored_value_top_up", args=[person.pk])
        response = client.post(
            url, {"amount": "10", "method": "cash", "token": "6f1c9a3e-3b1e-4c55-9a4d-1a2b3c4d5e6f"}
        )
        assert response.status_code == 403, role
    assert not StoredValueEntry.objects.exists()


def test_clinical_and_marketing_roles_do_not_see_the_tab(client_for, staff_factory, front_desk, person):
    services.stored_value_top_up(
        actor=front_desk, member=person, amount=D("321"), method="cash", idempotency_key="t"
    )
    for role in (Role.DOCTOR, Role.NURSE, Role.CONSULTANT, Role.MARKETING):
        client = client_for(staff_factory(role, username=f"v-{role}"))
        html = client.get(reverse("members:detail", args=[person.pk])).content.decode()
        assert "¥321.00" not in html and "?tab=stored_value" not in html, role
        assert client.get(reverse("loyalty:stored_value", args=[person.pk])).status_code == 403, role
    client = client_for(staff_factory(Role.CUSTOMER_SERVICE, username="v-cs"))
    html = client.get(tab(person.pk)).content.decode()
    assert "¥321.00" in html and 'data-testid="sv-top-up-form"' not in html


def test_outsider_gets_404(client_for, outsider, person):
    client = client_for(outsider)
    assert client.get(reverse("loyalty:stored_value", args=[person.pk])).status_code == 404
    url = reverse("loyalty:stored_value_top_up", args=[person.pk])
    assert client.post(url, {"amount": "10", "method": "cash"}).status_code == 404


def test_manager_refunds_with_a_reason_front_desk_may_not(client_for, front_desk, manager, person, rule):
    services.stored_value_top_up(
        actor=front_desk, member=person, amount=D("1000"), method="cash", idempotency_key="t"
    )
    url = reverse("loyalty:stored_value_refund", args=[person.pk])
    data = {
        "amount": "500",
        "method": "cash",
        "reason": "客户搬家",
        "token": "1f1c9a3e-3b1e-4c55-9a4d-1a2b3c4d5e6f",
    }
    assert client_for(front_desk).post(url, data).status_code == 403
    html = client_for(manager).get(tab(person.pk)).content.decode()
    assert 'data-testid="sv-refund-form"' in html
    response = client_for(manager).post(url, {**data, "reason": ""}, follow=True)
    assert list(response.context["messages"]) and StoredValueEntry.objects.count() == 1
    response = client_for(manager).post(url, {**data, "amount": "1000.01"}, follow=True)
    assert list(response.context["messages"]) and StoredValueEntry.objects.count() == 1
    assert client_for(manager).post(url, data).status_code == 302
    account = StoredValueAccount.objects.get(member=person)
    assert (account.paid_balance, account.bonus_balance) == (D("500"), D("50"))


def test_history_page_is_capped_in_queries(client_for, front_desk, person, django_assert_max_num_queries):
    for i in range(30):
        services.stored_value_top_up(
            actor=front_desk, member=person, amount=D("10"), method="cash", idempotency_key=f"t{i}"
        )
    client = client_for(front_desk)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("loyalty:stored_value", args=[person.pk]))
    assert response.status_code == 200 and response.content.decode().count("¥10.00") >= 30


def test_liability_report_for_managers_only(
    client_for, staff_factory, front_desk, manager, marketer, person, rule
):
    services.stored_value_top_up(
        actor=front_desk, member=person, amount=D("1000"), method="cash", idempotency_key="t"
    )
    url = reverse("loyalty:stored_value_liability")
    for user in (front_desk, marketer):
        assert client_for(user).get(url).status_code == 403
    html = client_for(manager).get(url).content.decode()
    assert "¥1,000.00" in html and "¥100.00" in html and "¥1,100.00" in html
    assert client_for(manager).get(url, {"as_of": "2999-01-01"}).status_code == 200  # a message, not a 500
    assert client_for(manager).get(url, {"as_of": "not-a-date"}).status_code == 200


def test_liability_xlsx_is_escaped_and_audited(client_for, manager, branch, front_desk):
    branch.name = "=HYPERLINK(1)"
    branch.save()
    member = make_member(branch, name="导出")
    services.stored_value_top_up(
        actor=front_desk, member=member, amount=D("88"), method="cash", idempotency_key="t"
    )
    response = client_for(manager).get(reverse("loyalty:stored_value_liability"), {"format": "xlsx"})
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.values)
    assert rows[1][0].startswith("'=")
    assert rows[1][2] == 88
    assert AuditLog.objects.filter(action="loyalty.stored_value.liability_exported").exists()


def test_liability_xlsx_needs_export_permission(client_for, staff_factory, manager):
    from django.contrib.auth.models import Permission

    manager.groups.first().permissions.remove(Permission.objects.get(codename="export_data"))
    manager = type(manager).objects.get(pk=manager.pk)
    response = client_for(manager).get(reverse("loyalty:stored_value_liability"), {"format": "xlsx"})
    assert response.status_code == 403


def test_timeline_shows_top_ups(client_for, front_desk, person, rule):
    services.stored_value_top_up(
        actor=front_desk, member=person, amount=D("1000"), method="cash", idempotency_key="t"
    )
    html = client_for(front_desk).get(reverse("members:detail", args=[person.pk])).content.decode()
    assert "储值 ¥1,100.00（充值）" in html


def test_hq_sets_bonus_rules_in_admin_managers_may_not(client_for, hq_admin, manager):
    url = reverse("admin:loyalty_storedvaluebonusrule_add")
    assert client_for(manager).get(url).status_code == 403
    data = {"name": "充2000送250", "threshold": "2000", "bonus": "250", "is_active": "on"}
    response = client_for(hq_admin).post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert StoredValueBonusRule.objects.get(name="充2000送250").bonus == D("250")
    bad = client_for(hq_admin).post(
        url, {**data, "name": "x", "valid_from": "2026-05-01", "valid_until": "2026-04-01"}
    )
    assert bad.status_code == 200 and not StoredValueBonusRule.objects.filter(name="x").exists()
