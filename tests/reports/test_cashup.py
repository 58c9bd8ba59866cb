"""The end-of-day cash-up: takings per method, per cashier and shift, voids and stored-value
movements; the cashier's count against expected cash; the manager's sign-off locks the day;
bad input (negative, letters, a future day, signing twice) gets a clear message."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Payment, Visit
from clinic.models import AuditLog
from loyalty.services.stored_value import stored_value_top_up
from reports import cashup
from reports.cashup_models import CashCount, DaySignOff
from tests.appointments.factories import make_doctor
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db

D = Decimal


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


def _visit(branch, doctor, member, when, by, payments, *, void_by=None, void_at=None):
    total = sum((D(a) for _m, a in payments), D(0))
    v = Visit.objects.create(
        branch=branch,
        member=member,
        doctor=doctor,
        opened_at=when,
        status="checked_out",
        amount_due=total,
        amount_paid=total,
        checked_out_at=when,
        checked_out_by=by,
    )
    rows = [Payment.objects.create(visit=v, method=m, amount=D(a), at=when, by=by) for m, a in payments]
    if void_by is not None:
        for p in rows:
            Payment.objects.create(
                visit=v, method=p.method, amount=-p.amount, reverses=p, at=void_at, by=void_by
            )
        v.status, v.voided_at, v.void_reason = "voided", void_at, "收错项目"
        v.save()
    return v


@pytest.fixture
def day_world(branch, other_branch, front_desk, manager):
    """Yesterday at 静安: the front desk took cash and WeChat in the morning and cash in the
    evening; the manager took a card payment and voided one of the morning's visits. 浦东
    took cash too (must not show)."""
    day = timezone.localdate() - dt.timedelta(days=1)
    doctor = make_doctor(branch, "cu_doc")
    m1, m2, m3 = (make_member(branch, name=n) for n in ("日结甲", "日结乙", "日结丙"))
    _visit(branch, doctor, m1, _local(day, 9), front_desk, [("cash", "300.00"), ("wechat_pay", "200.00")])
    _visit(
        branch,
        doctor,
        m2,
        _local(day, 10),
        front_desk,
        [("cash", "100.00")],
        void_by=manager,
        void_at=_local(day, 15),
    )
    _visit(branch, doctor, m3, _local(day, 16), front_desk, [("cash", "50.50"), ("member_balance", "80.00")])
    _visit(branch, doctor, m3, _local(day, 17), manager, [("bank_card", "500.00"), ("insurance", "120.00")])
    od = make_doctor(other_branch, "cu_doc2")
    _visit(
        other_branch,
        od,
        make_member(other_branch, name="浦东人"),
        _local(day, 11),
        manager,
        [("cash", "999.00")],
    )
    return day


def test_takings_per_method_per_cashier_and_shift(day_world, branch, front_desk, manager):
    s = cashup.day_summary(branch, day_world)
    assert s.takings == {
        "cash": D("450.50"),
        "wechat_pay": D("200.00"),
        "alipay": D(0),
        "bank_card": D("500.00"),
        "insurance": D("120.00"),
        "member_balance": D("80.00"),
    }
    assert s.voids["cash"] == D("-100.00") and len(s.void_lines) == 1
    assert s.expected_cash == D("350.50")  # 450.50 taken − 100 voided; 浦东's 999 not here
    rows = {(r.cashier_id, r.shift): r for r in s.rows}
    assert rows[(front_desk.pk, "morning")].expected_cash == D("400.00")
    assert rows[(front_desk.pk, "evening")].expected_cash == D("50.50")
    assert rows[(manager.pk, "evening")].expected_cash == D("-100.00")  # paid the void back
    assert rows[(manager.pk, "evening")].by_method["bank_card"] == D("500.00")


def test_stored_value_top_up_counts_on_its_day_as_cash_in(branch, front_desk):
    m = make_member(branch, name="储值人")
    stored_value_top_up(
        actor=front_desk,
        member=m,
        amount=D("1000.00"),
        method="cash",
        idempotency_key="cu-top-2",
        branch=branch,
    )
    s = cashup.day_summary(branch, timezone.localdate())
    assert s.top_ups["cash"] == D("1000.00") and s.expected_cash == D("1000.00")
    assert s.top_up_lines[0].person == "储值人"


def test_count_difference_sign_off_locks_and_is_audited(day_world, branch, front_desk, manager):
    c = cashup.cash_count_record(
        actor=front_desk, branch=branch, day=day_world, shift="morning", counted="398.00"
    )
    assert c.expected == D("400.00")
    # A recount before the sign-off replaces the figure, audited with the old one.
    cashup.cash_count_record(
        actor=front_desk, branch=branch, day=day_world, shift="morning", counted="399.00"
    )
    assert CashCount.objects.get().counted == D("399.00")
    assert AuditLog.objects.filter(action="reports.cash_count.recounted").get().changes["counted"] == [
        "398.00",
        "399.00",
    ]
    with pytest.raises(cashup.CashupError) as err:
        cashup.day_sign_off(actor=manager, branch=branch, day=day_world)
    assert err.value.code == "uncounted"  # the evening shifts are not counted yet
    cashup.cash_count_record(actor=front_desk, branch=branch, day=day_world, shift="evening", counted="50.50")
    cashup.cash_count_record(actor=manager, branch=branch, day=day_world, shift="evening", counted="0")
    s = cashup.day_summary(branch, day_world)
    assert s.counted_cash == D("449.50") and s.difference == D("99.00")
    sign = cashup.day_sign_off(actor=manager, branch=branch, day=day_world, note="差额已说明")
    assert sign.totals["expected_cash"] == "350.50"
    assert AuditLog.objects.filter(action="reports.day.signed_off", branch=branch).count() == 1
    with pytest.raises(cashup.CashupError) as err:
        cashup.cash_count_record(
            actor=front_desk, branch=branch, day=day_world, shift="morning", counted="400"
        )
    assert err.value.code == "locked"
    with pytest.raises(cashup.CashupError) as err:
        cashup.day_sign_off(actor=manager, branch=branch, day=day_world)
    assert err.value.code == "signed"


@pytest.mark.parametrize("raw", ["-5", "abc", "12.345", "", "1e3", "１２", "99999999"])
def test_bad_amounts_are_refused_with_a_message(raw, branch, front_desk):
    with pytest.raises(cashup.CashupError) as err:
        cashup.cash_count_record(
            actor=front_desk, branch=branch, day=timezone.localdate(), shift="morning", counted=raw
        )
    assert err.value.field == "counted" and str(err.value.message)
    assert not CashCount.objects.exists()


def test_future_day_and_unknown_shift_are_refused(branch, front_desk, manager):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(cashup.CashupError) as err:
        cashup.cash_count_record(actor=front_desk, branch=branch, day=tomorrow, shift="morning", counted="1")
    assert err.value.code == "future"
    with pytest.raises(cashup.CashupError):
        cashup.day_sign_off(actor=manager, branch=branch, day=tomorrow)
    with pytest.raises(cashup.CashupError):
        cashup.cash_count_record(
            actor=front_desk, branch=branch, day=timezone.localdate(), shift="night", counted="1"
        )


def test_front_desk_may_not_sign_off(branch, front_desk):
    with pytest.raises(cashup.CashupError) as err:
        cashup.day_sign_off(actor=front_desk, branch=branch, day=timezone.localdate())
    assert err.value.code == "forbidden"


# Views ------------------------------------------------------------------------------------


def test_page_shows_the_sheet_and_the_forms_by_role(day_world, front_desk, manager, client_for):
    url = reverse("reports:cashup") + f"?day={day_world.isoformat()}"
    html = client_for(front_desk).get(url).content.decode()
    assert "日结" in html and 'data-testid="count-form"' in html and 'data-testid="sign-form"' not in html
    assert "¥350.50" in html and "现金" in html and "医保" in html and "储值" in html
    assert "浦东人" not in html and "999" not in html
    html = client_for(manager).get(url).content.decode()
    assert 'data-testid="sign-form"' in html


def test_count_view_bad_input_gives_form_errors_not_500(front_desk, client_for):
    client = client_for(front_desk)
    today = timezone.localdate().isoformat()
    r = client.post(reverse("reports:cashup_count"), {"day": today, "shift": "morning", "counted": "-3"})
    assert r.status_code == 400 and "不能为负" in r.content.decode()
    r = client.post(reverse("reports:cashup_count"), {"day": today, "shift": "morning", "counted": "三百"})
    assert r.status_code == 400 and "1280.50" in r.content.decode()
    r = client.post(
        reverse("reports:cashup_count"), {"day": "2999-01-01", "shift": "morning", "counted": "3"}
    )
    assert r.status_code == 302 and not CashCount.objects.exists()
    r = client.post(reverse("reports:cashup_count"), {"day": today, "shift": "morning", "counted": "300"})
    assert r.status_code == 302 and CashCount.objects.get().counted == D("300.00")


def test_sign_off_view_twice_says_so(front_desk, manager, client_for):
    client = client_for(manager)
    today = timezone.localdate().isoformat()
    r = client.post(reverse("reports:cashup_sign_off"), {"day": today}, follow=True)
    assert "已签核" in r.content.decode() or "签核" in r.content.decode()
    r = client.post(reverse("reports:cashup_sign_off"), {"day": today}, follow=True)
    assert DaySignOff.objects.count() == 1 and "已由" in r.content.decode()
    assert client_for(front_desk).post(reverse("reports:cashup_sign_off"), {"day": today}).status_code == 403


def test_bad_day_parameter_falls_back_to_today(front_desk, client_for):
    client = client_for(front_desk)
    for raw in ("2999-01-01", "nope", "0001-01-01"):
        r = client.get(reverse("reports:cashup") + f"?day={raw}")
        assert r.status_code == 200


def test_outsiders_are_refused(doctor, client_for, client):
    assert client_for(doctor).get(reverse("reports:cashup")).status_code == 403
    assert client.get(reverse("reports:cashup")).status_code == 302


def test_pdf_or_printable_page(day_world, manager, client_for):
    r = client_for(manager).get(reverse("reports:cashup") + f"?day={day_world.isoformat()}&format=pdf")
    assert r.status_code == 200
    assert r["Content-Type"] in ("application/pdf", "text/html; charset=utf-8")


def test_a_void_after_the_sign_off_shows_as_a_difference_not_a_silent_change(
    day_world, branch, front_desk, manager
):
    for shift in ("morning", "evening"):
        cashup.cash_count_record(actor=front_desk, branch=branch, day=day_world, shift=shift, counted="0")
    cashup.cash_count_record(actor=manager, branch=branch, day=day_world, shift="evening", counted="0")
    cashup.day_sign_off(actor=manager, branch=branch, day=day_world)
    # A void dated that day after the sign-off (a late correction).
    p = Payment.objects.filter(visit__branch=branch, method="bank_card").get()
    Payment.objects.create(
        visit=p.visit, method="bank_card", amount=-p.amount, reverses=p, at=p.at, by=manager
    )
    s = cashup.day_summary(branch, day_world)
    assert s.signed_difference == {"bank_card": (D("500.00"), D("0.00"))}
