"""Month close: a closed month keeps its figures; a later void shows as the figure today and
as a change after the close; the job closes last month once; bad months and reopening are
refused with a message, never a 500."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Visit
from clinic.models import AuditLog
from reports import dashboard, month_close
from reports.close_models import MonthClose
from reports.errors import ReportsError
from tests.appointments.factories import make_doctor
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


def _last_month() -> dt.date:
    return dashboard._shift_month(timezone.localdate().replace(day=1), -1)


@pytest.fixture
def last_month_visits(branch, other_branch):
    """Two paid visits at this branch last month, one at the other branch."""
    first = _last_month()
    doctor = make_doctor(branch, "mc_doc")
    other_doctor = make_doctor(other_branch, "mc_doc2")
    made = []
    for i, (br, doc, amount) in enumerate(
        ((branch, doctor, 300), (branch, doctor, 500), (other_branch, other_doctor, 700))
    ):
        when = timezone.make_aware(dt.datetime.combine(first + dt.timedelta(days=3 + i), dt.time(10)))
        m = make_member(br, name=f"月结{i}", phone=f"+8613700{i:06d}")
        made.append(
            Visit.objects.create(
                branch=br,
                member=m,
                doctor=doc,
                opened_at=when,
                status="checked_out",
                amount_due=Decimal(amount),
                amount_paid=Decimal(amount),
                checked_out_at=when,
            )
        )
    return made


def test_close_freezes_the_month_and_a_later_void_is_explained(branch, manager, last_month_visits):
    close = month_close.month_close(actor=manager, branch=branch, month=_last_month())
    assert Decimal(close.figures["revenue"]) == Decimal(800)  # not the other branch's 700
    assert Decimal(close.figures["visits"]) == 2
    assert AuditLog.objects.filter(action="reports.month.closed", branch=branch).count() == 1

    visit = last_month_visits[1]
    Visit.objects.filter(pk=visit.pk).update(
        status="voided", voided_at=timezone.now() + dt.timedelta(seconds=1), void_reason="重复结账"
    )
    close.refresh_from_db()
    assert Decimal(close.figures["revenue"]) == Decimal(800)  # the snapshot does not move
    lines = {line.code: line for line in month_close.comparison(close)}
    assert lines["revenue"].closed == Decimal(800) and lines["revenue"].now == Decimal(300)
    assert lines["revenue"].difference == Decimal(-500) and lines["revenue"].changed
    assert not lines["new_people"].changed
    changes = month_close.changes_since(close)
    assert [(str(c.what), c.detail, c.person) for c in changes] == [("月结后作废的就诊", "重复结账", "月结1")]


def test_an_open_month_and_a_second_close_are_refused(branch, manager, last_month_visits):
    with pytest.raises(ReportsError):
        month_close.month_close(actor=manager, branch=branch, month=timezone.localdate().replace(day=1))
    month_close.month_close(actor=manager, branch=branch, month=_last_month())
    with pytest.raises(ReportsError):
        month_close.month_close(actor=manager, branch=branch, month=_last_month())
    assert MonthClose.objects.filter(branch=branch).count() == 1


def test_the_job_closes_last_month_once_for_every_branch(branch, other_branch, last_month_visits):
    assert month_close.close_due_months() == 2
    assert month_close.close_due_months() == 0
    closes = {c.branch_id: c for c in MonthClose.objects.all()}
    assert Decimal(closes[other_branch.pk].figures["revenue"]) == Decimal(700)
    assert closes[branch.pk].closed_by is None and closes[branch.pk].closed_by_name == ""


def test_pages_close_by_hand_and_show_the_comparison(branch, manager, client_for, last_month_visits):
    client = client_for(manager)
    first = _last_month()
    page = client.get(reverse("reports:months")).content.decode()
    assert f'data-testid="month-{first:%Y-%m}"' in page and "未月结" in page
    response = client.post(reverse("reports:month_close", args=[first.year, first.month]))
    assert response.status_code == 302
    page = client.get(reverse("reports:month", args=[first.year, first.month])).content.decode()
    assert "¥800.00" in page and 'data-testid="close-unchanged"' in page
    # Closing it again: a message, not an error.
    again = client.post(reverse("reports:month_close", args=[first.year, first.month]), follow=True)
    assert again.status_code == 200 and "已经月结" in again.content.decode()
    # This month has not ended; month 13 does not exist; a month never closed is not found.
    now = timezone.localdate()
    early = client.post(reverse("reports:month_close", args=[now.year, now.month]), follow=True)
    assert "月份结束后" in early.content.decode()
    assert client.get(reverse("reports:month", args=[now.year, 13])).status_code == 404
    assert client.get(reverse("reports:month", args=[now.year - 5, 1])).status_code == 404


def test_staff_without_the_permission_are_refused(front_desk, client_for):
    client = client_for(front_desk)
    assert client.get(reverse("reports:months")).status_code == 403
    first = _last_month()
    assert client.post(reverse("reports:month_close", args=[first.year, first.month])).status_code == 403


def test_the_monthly_report_pdf_shows_chinese_and_its_charts(branch, manager, client_for, last_month_visits):
    from reports import rollups
    from tests.pdf_checks import pdf_pages

    rollups.rollup_refresh(full=True)
    first = _last_month()
    month_close.month_close(actor=manager, branch=branch, month=first)
    response = client_for(manager).get(reverse("reports:month_pdf", args=[first.year, first.month]))
    assert response["Content-Type"] == "application/pdf"
    text = "\n".join(pdf_pages(response.content))
    assert "月度经营报告" in text and "营收" in text and "¥800.00" in text
    assert "每日营收（元）" in text  # the SVG chart's title, drawn in the PDF
    from reports import month_pdf

    svg = month_pdf.context(MonthClose.objects.get(branch=branch, month=first))["revenue_svg"]
    assert svg.count("<rect") == (month_close.month_bounds(first)[1] - first).days


def test_absurd_months_are_not_found(manager, client_for):
    client = client_for(manager)
    huge = 10**30
    for args in ((huge, huge), (0, 1), (2026, 0)):
        assert client.get(reverse("reports:month", args=args)).status_code == 404
        assert client.get(reverse("reports:month_pdf", args=args)).status_code == 404
        assert client.post(reverse("reports:month_close", args=args)).status_code == 404


def test_the_job_emails_the_monthly_report_once_to_those_who_may_read_it(
    branch, other_branch, manager, front_desk, hq_admin, last_month_visits, client_for
):
    from django.contrib.auth import get_user_model

    from clinic.notifications.models import Outbox

    User = get_user_model()
    User.objects.filter(pk=manager.pk).update(email="manager@example.com")
    User.objects.filter(pk=front_desk.pk).update(email="desk@example.com")  # may not read reports
    User.objects.filter(pk=hq_admin.pk).update(email="hq@example.com")
    month_close.close_due_months()
    month_close.close_due_months()  # a second run sends nothing more
    rows = Outbox.objects.filter(template_key="reports.monthly_report").order_by("recipient", "branch_id")
    got = [(r.recipient, r.branch_id) for r in rows]
    # The manager (静安 only) gets 静安's; HQ (every branch) gets both; the front desk none.
    assert got == [
        ("hq@example.com", branch.pk),
        ("hq@example.com", other_branch.pk),
        ("manager@example.com", branch.pk),
    ]
    mine = rows.get(recipient="manager@example.com")
    assert mine.purpose == "service" and mine.channel == "email"
    assert "¥800.00" in mine.params["figures"] and mine.params["month"] == f"{_last_month():%Y-%m}"
    # The link opens that branch's PDF for a viewer of several branches, and no one else's.
    path = mine.params["link"].replace("http://localhost:8000", "")
    assert path.endswith(f"?branch={branch.code}")
    response = client_for(hq_admin).get(path.replace(branch.code, other_branch.code))
    assert response.status_code == 200
    assert client_for(manager).get(path.replace(branch.code, other_branch.code)).status_code == 404
