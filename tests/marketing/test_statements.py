"""Monthly statements (screen, xlsx, PDF), settlement by a role with marketing.settle_rebate,
frozen once settled; the partner analysis and its drill-down, people masked as the role
requires."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal as D

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from openpyxl import load_workbook

from clinic.models import AuditLog, Role
from marketing import rebates
from marketing.errors import MarketingError
from marketing.models import Rebate, Statement
from tests.conftest import make_staff
from tests.members.factories import make_member
from tests.pdf_checks import pdf_text, render_without_system_fonts

from .partner_fixtures import *  # noqa: F403
from .partner_fixtures import attribute, local, paid_visit, term, void

pytestmark = pytest.mark.django_db

AFTER_OCTOBER = local(2026, 11, 3)


@pytest.fixture
def october(partner, sent, marketer, front_desk, doc, cleaning):
    """The partner's October: one person's ¥300 visit at 10%."""
    term(marketer, partner, kind="percent", percent=D("10"))
    paid_visit(front_desk, doc, sent, [cleaning], local(2026, 10, 20))
    return Statement.objects.get(partner=partner, month=dt.date(2026, 10, 1))


def settle(client, statement, **data):
    data.setdefault("paid_amount", "30.00")
    data.setdefault("reference", "转账 20261103")
    with time_machine.travel(AFTER_OCTOBER, tick=False):
        return client.post(reverse("marketing:statement_settle", args=[statement.pk]), data)


def test_statement_screen_shows_lines_and_total(client_for, october, marketer, sent):
    page = client_for(marketer).get(reverse("marketing:statement_detail", args=[october.pk])).content.decode()
    assert sent.name in page and "超声洁牙" in page and "¥30.00" in page and "¥300.00" in page


def test_people_of_branches_the_viewer_does_not_work_at_are_masked(
    client_for, partner, marketer, front_desk, doc, cleaning, other_branch
):
    term(marketer, partner, kind="percent", percent=D("10"))
    far = make_member(other_branch, name="欧阳明", phone="13900006666")
    attribute(far, partner)
    visit = paid_visit(front_desk, doc, far, [cleaning], local(2026, 10, 20), branch=partner.branch)
    far.served_branches.remove(visit.branch)  # as if the visit were at the other branch too
    statement = Statement.objects.get(partner=partner)
    page = (
        client_for(marketer).get(reverse("marketing:statement_detail", args=[statement.pk])).content.decode()
    )
    hq = make_staff(Role.HQ_ADMIN, [partner.branch, other_branch], username="hq2")
    assert "欧阳明" not in page and "欧**" in page
    assert (
        "欧阳明"
        in client_for(hq).get(reverse("marketing:statement_detail", args=[statement.pk])).content.decode()
    )


def test_xlsx_goes_to_the_partner_masked_and_is_audited(client_for, october, marketer, sent):
    r = client_for(marketer).get(reverse("marketing:statement_xlsx", args=[october.pk]))
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[1][1] == "李*" and rows[1][4] == 300 and rows[1][5] == 30
    assert rows[-1][5] == 30  # the total
    assert all(sent.name not in str(v) for row in rows for v in row)
    assert AuditLog.objects.filter(action="marketing.statement.exported", changes__format="xlsx").exists()


def test_pdf_keeps_its_chinese_without_system_fonts(client_for, october, marketer, captured_html, tmp_path):
    pytest.importorskip("weasyprint")
    r = client_for(marketer).get(reverse("marketing:statement_pdf", args=[october.pk]))
    assert r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert "阳光小学" in pdf_text(r.content)
    bare = render_without_system_fonts(tmp_path, **captured_html)
    for text in ("阳光小学", "李*", "返佣对账单"):
        assert text in bare, f"{text!r} lost without system fonts"


def test_manager_settles_after_the_month_audited(client_for, october, manager):
    r = settle(client_for(manager), october)
    assert r.status_code == 302
    october.refresh_from_db()
    assert (october.status, october.paid_amount, october.reference, october.settled_by) == (
        "settled",
        D("30.00"),
        "转账 20261103",
        manager,
    )
    row = AuditLog.objects.get(action="marketing.statement.settled")
    assert row.changes["paid_amount"] == "30.00" and row.changes["reference"] == "转账 20261103"


def test_marketing_may_not_settle(client_for, october, marketer):
    assert settle(client_for(marketer), october).status_code == 403
    october.refresh_from_db()
    assert october.status == "open"


def test_settlement_rules(october, manager):
    with time_machine.travel(local(2026, 10, 31, 17), tick=False), pytest.raises(MarketingError) as err:
        rebates.statement_settle(actor=manager, statement=october, paid_amount=D("30"), reference="r")
    assert err.value.code == "state"  # the month has not ended
    with time_machine.travel(AFTER_OCTOBER, tick=False):
        with pytest.raises(MarketingError) as err:
            rebates.statement_settle(actor=manager, statement=october, paid_amount=D("29.99"), reference="r")
        assert err.value.field == "paid_amount"
        with pytest.raises(MarketingError) as err:
            rebates.statement_settle(actor=manager, statement=october, paid_amount=D("30"), reference=" ")
        assert err.value.field == "reference"
        rebates.statement_settle(actor=manager, statement=october, paid_amount=D("30"), reference="r")
        with pytest.raises(MarketingError) as err:
            rebates.statement_settle(actor=manager, statement=october, paid_amount=D("30"), reference="r")
        assert err.value.code == "state"


def test_a_settled_statement_is_frozen_in_the_database(october, manager):
    with time_machine.travel(AFTER_OCTOBER, tick=False):
        rebates.statement_settle(actor=manager, statement=october, paid_amount=D("30"), reference="r")
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 — pgtrigger refuses
        Statement.objects.filter(pk=october.pk).update(total=D("0"))
    october.refresh_from_db()
    assert october.total == D("30.00")


def test_negative_balance_is_carried_to_the_next_month(october, manager, sent, front_desk, doc, cleaning):
    with time_machine.travel(AFTER_OCTOBER, tick=False):
        rebates.statement_settle(actor=manager, statement=october, paid_amount=D("30"), reference="r")
    visit = Rebate.objects.get(kind="accrual").visit
    void(manager, visit, local(2026, 11, 10))
    november = Statement.objects.get(month=dt.date(2026, 11, 1))
    assert november.total == D("-30.00")
    with time_machine.travel(local(2026, 12, 2), tick=False):
        rebates.statement_settle(actor=manager, statement=november, paid_amount=D("0"), reference="")
    november.refresh_from_db()
    december = Statement.objects.get(month=dt.date(2026, 12, 1))
    assert (november.status, november.total) == ("settled", D("0.00"))
    assert [(r.kind, r.amount) for r in december.lines.all()] == [("carry_in", D("-30.00"))]
    assert december.total == D("-30.00")


def test_statement_list_filters_by_month_and_scope(client_for, october, marketer, other_branch):
    client = client_for(marketer)
    url = reverse("marketing:statement_list")
    assert "阳光小学" in client.get(url, {"month": "2026-10"}).content.decode()
    assert "阳光小学" not in client.get(url, {"month": "2026-09"}).content.decode()
    assert client.get(url, {"month": "2026-13", "branch": "x", "status": "??"}).status_code == 200
    theirs = make_staff(Role.BRANCH_MANAGER, [other_branch], username="mgr_pd")
    assert "阳光小学" not in client_for(theirs).get(url).content.decode()
    assert client_for(theirs).get(reverse("marketing:statement_detail", args=[october.pk])).status_code == 404


def test_the_statement_page_offers_settlement_only_to_settlers_after_the_month(
    client_for, october, manager, marketer
):
    url = reverse("marketing:statement_detail", args=[october.pk])
    with time_machine.travel(local(2026, 10, 25), tick=False):
        assert 'data-testid="settle-later"' in client_for(manager).get(url).content.decode()
    with time_machine.travel(AFTER_OCTOBER, tick=False):
        assert 'data-testid="settle-form"' in client_for(manager).get(url).content.decode()
        assert 'data-testid="settle-form"' not in client_for(marketer).get(url).content.decode()


# --- the analysis ---------------------------------------------------------------------------


def test_analysis_counts_sent_paid_returned_revenue_and_rebate(
    client_for, partner, sent, marketer, front_desk, doc, cleaning, implant, branch, manager
):
    term(marketer, partner, kind="percent", percent=D("10"))
    paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10))
    paid_visit(front_desk, doc, sent, [implant], local(2026, 11, 12))  # came back
    once = make_member(branch, name="周八", phone="13900007777")
    attribute(once, partner)
    voided = paid_visit(front_desk, doc, once, [cleaning], local(2026, 11, 11))
    void(manager, voided, local(2026, 11, 11, 15))  # a voided visit is not a paid visit
    never = make_member(branch, name="吴九", phone="13900008888")
    attribute(never, partner)
    from marketing.partner_selectors import partner_analysis

    [row] = partner_analysis(marketer)
    assert (row.sent, row.paid, row.returned, row.revenue, row.rebate) == (3, 1, 1, D("6300.00"), D("630.00"))
    page = client_for(marketer).get(reverse("marketing:partner_analysis")).content.decode()
    assert "¥6,300.00" in page and "¥630.00" in page
    people = (
        client_for(marketer)
        .get(reverse("marketing:partner_people", args=[partner.pk]), {"stage": "returned"})
        .content.decode()
    )
    assert sent.name in people and "周八" not in people and "吴九" not in people


def test_analysis_by_month_is_the_cohort_sent_that_month(partner, sent, marketer):
    from marketing.models import Attribution
    from marketing.partner_selectors import partner_analysis
    from marketing.rebates import month_start

    Attribution.objects.filter(member=sent).update(fixed_at=local(2026, 9, 30, 23))
    assert partner_analysis(marketer, month=dt.date(2026, 9, 1))[0].sent == 1
    assert partner_analysis(marketer, month=dt.date(2026, 10, 1))[0].sent == 0
    assert month_start(dt.date(2026, 9, 17)) == dt.date(2026, 9, 1)


def test_drill_down_masks_people_outside_the_viewers_branches(client_for, partner, marketer, other_branch):
    far = make_member(other_branch, name="欧阳明", phone="13900006666")
    attribute(far, partner)
    page = client_for(marketer).get(reverse("marketing:partner_people", args=[partner.pk])).content.decode()
    assert "欧阳明" not in page and "欧**" in page
    assert (
        client_for(marketer)
        .get(reverse("marketing:partner_people", args=[partner.pk]), {"stage": "??", "month": "x"})
        .status_code
        == 200
    )


def test_list_pages_keep_their_query_count(client_for, october, marketer, django_assert_max_num_queries):
    client = client_for(marketer)
    for name in ("marketing:statement_list", "marketing:partner_analysis"):
        with django_assert_max_num_queries(14):
            assert client.get(reverse(name)).status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(reverse("marketing:statement_detail", args=[october.pk])).status_code == 200
