"""Partner pages for marketing: list with search and filters, create and edit (audited),
contacts, contract terms; branch scope (404 outside) and permissions (403)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse

from clinic.models import AuditLog, Role
from marketing import partners
from marketing.models import Partner, RebateTerm
from tests.conftest import make_staff

from .partner_fixtures import *  # noqa: F403
from .partner_fixtures import attribute, term

pytestmark = pytest.mark.django_db


def test_marketing_creates_a_partner_audited(client_for, marketer, branch, cleaning):
    r = client_for(marketer).post(
        reverse("marketing:partner_create"),
        {
            "name": "康泰药房",
            "kind": "pharmacy",
            "branch": branch.pk,
            "account_manager": marketer.pk,
            "phone": "021-62880000",
            "address": "南京西路 1 号",
            "notes": "",
            "is_active": "on",
        },
    )
    partner = Partner.objects.get(name="康泰药房")
    assert r.status_code == 302 and r["Location"] == reverse("marketing:partner_detail", args=[partner.pk])
    assert (partner.kind, partner.branch, partner.account_manager, partner.is_active) == (
        "pharmacy",
        branch,
        marketer,
        True,
    )
    row = AuditLog.objects.get(action="marketing.partner.created")
    assert row.actor == marketer and row.branch == branch


def test_a_partner_name_is_unique_per_branch(client_for, marketer, partner, branch):
    r = client_for(marketer).post(
        reverse("marketing:partner_create"), {"name": partner.name, "kind": "school", "branch": branch.pk}
    )
    assert r.status_code == 200
    assert "已有同名" in r.content.decode() or "already has a partner" in r.content.decode()


def test_marketing_cannot_create_for_a_branch_it_does_not_work_at(client_for, marketer, other_branch):
    r = client_for(marketer).post(
        reverse("marketing:partner_create"), {"name": "外店单位", "kind": "school", "branch": other_branch.pk}
    )
    assert r.status_code == 200 and not Partner.objects.filter(name="外店单位").exists()


def test_edit_is_audited_with_old_and_new(client_for, marketer, partner, branch):
    r = client_for(marketer).post(
        reverse("marketing:partner_edit", args=[partner.pk]),
        {
            "name": "阳光实验小学",
            "kind": "school",
            "branch": branch.pk,
            "phone": "",
            "address": "",
            "notes": "",
        },
    )
    assert r.status_code == 302
    partner.refresh_from_db()
    assert (partner.name, partner.is_active) == ("阳光实验小学", False)  # the box was left unticked
    changes = AuditLog.objects.get(action="marketing.partner.changed").changes
    assert changes["name"] == ["阳光小学", "阳光实验小学"] and changes["is_active"] == [True, False]


def test_list_searches_and_filters(client_for, marketer, branch, partner, django_assert_max_num_queries):
    partners.partner_create(actor=marketer, branch=branch, name="康泰药房", kind="pharmacy")
    old = partners.partner_create(
        actor=marketer, branch=branch, name="老城诊所", kind="clinic", is_active=False
    )
    partners.partner_contact_add(actor=marketer, partner=old, name="钱主任")
    client = client_for(marketer)
    url = reverse("marketing:partner_list")
    with django_assert_max_num_queries(12):
        page = client.get(url).content.decode()
    assert all(name in page for name in ("阳光小学", "康泰药房", "老城诊所"))
    assert "康泰药房" not in client.get(url, {"kind": "school"}).content.decode()
    assert "老城诊所" not in client.get(url, {"active": "1"}).content.decode()
    assert "老城诊所" in client.get(url, {"q": "钱主任"}).content.decode()  # found by its contact
    assert client.get(url, {"q": "\u200b", "kind": "nope", "active": "x"}).status_code == 200


def test_other_branch_partner_is_not_found(client_for, partner, other_branch):
    theirs = make_staff(Role.MARKETING, [other_branch], username="mkt_pd")
    client = client_for(theirs)
    assert client.get(reverse("marketing:partner_detail", args=[partner.pk])).status_code == 404
    assert "阳光小学" not in client.get(reverse("marketing:partner_list")).content.decode()


def test_roles_without_permission_are_refused(client_for, partner, front_desk, manager):
    assert client_for(front_desk).get(reverse("marketing:partner_list")).status_code == 403
    # the manager reads partners but does not change them
    assert client_for(manager).get(reverse("marketing:partner_detail", args=[partner.pk])).status_code == 200
    assert (
        client_for(manager).post(reverse("marketing:partner_edit", args=[partner.pk]), {}).status_code == 403
    )
    assert (
        client_for(manager).post(reverse("marketing:partner_term_add", args=[partner.pk]), {}).status_code
        == 403
    )


def test_contacts_are_added_and_removed(client_for, marketer, partner):
    client = client_for(marketer)
    client.post(
        reverse("marketing:partner_contact_add", args=[partner.pk]), {"name": "孙校医", "title": "校医"}
    )
    contact = partner.contacts.get()
    assert (contact.name, contact.title) == ("孙校医", "校医")
    page = client.get(reverse("marketing:partner_detail", args=[partner.pk])).content.decode()
    assert "孙校医" in page
    client.post(reverse("marketing:partner_contact_remove", args=[partner.pk, contact.pk]))
    assert not partner.contacts.exists()
    assert [
        a.action
        for a in AuditLog.objects.filter(action__startswith="marketing.partner.contact").order_by("pk")
    ] == [
        "marketing.partner.contact_added",
        "marketing.partner.contact_removed",
    ]


def test_term_form_checks_kind_and_value(client_for, marketer, partner, implant):
    client = client_for(marketer)
    url = reverse("marketing:partner_term_add", args=[partner.pk])
    r = client.post(url, {"kind": "percent", "valid_from": "2026-12-01"})
    assert r.status_code == 200 and not RebateTerm.objects.exists()
    r = client.post(url, {"kind": "percent", "percent": "150", "valid_from": "2026-12-01"})
    assert r.status_code == 200 and not RebateTerm.objects.exists()
    r = client.post(
        url, {"kind": "fixed", "amount": "200", "valid_from": "2026-12-10", "valid_until": "2026-12-01"}
    )
    assert r.status_code == 200 and not RebateTerm.objects.exists()
    r = client.post(
        url,
        {"kind": "percent", "percent": "12.5", "category": implant.category_id, "valid_from": "2026-12-01"},
    )
    assert r.status_code == 302
    t = RebateTerm.objects.get()
    assert (t.kind, t.percent, t.amount, t.category) == ("percent", D("12.50"), None, implant.category)
    assert AuditLog.objects.filter(action="marketing.rebate_term.created").exists()


def test_a_term_ends_today(client_for, marketer, partner):
    import time_machine

    t = term(marketer, partner, kind="fixed", amount=D("100"))
    with time_machine.travel(dt.datetime(2026, 12, 9, 10, tzinfo=dt.UTC), tick=False):
        r = client_for(marketer).post(reverse("marketing:partner_term_end", args=[partner.pk, t.pk]))
    assert r.status_code == 302
    t.refresh_from_db()
    assert t.valid_until == dt.date(2026, 12, 9)


def test_detail_counts_the_people_sent(client_for, marketer, partner, sent):
    page = client_for(marketer).get(reverse("marketing:partner_detail", args=[partner.pk])).content.decode()
    assert "1 人" in page or "1 person sent" in page
    assert attribute  # the fixture's helper is the one that links people
