"""The working-day calendar (clinic.workdays) on real dates of 2024 and 2025: 春节, 劳动节,
国庆 with their 调休 make-up days, branch closures, and the fallback beyond the library."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

import pytest

from clinic import workdays
from clinic.models import CalendarDay
from clinic.workdays import deadline_after, is_working_day, working_days_after, working_days_between

D = dt.date
SH = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2024, 2, 4), True),  # Sunday, make-up day before 春节 2024
        (D(2024, 2, 10), False),  # 春节 (大年初一), Saturday
        (D(2024, 2, 12), False),  # Monday inside the 春节 holiday
        (D(2024, 2, 18), True),  # Sunday, make-up day after 春节 2024
        (D(2024, 5, 1), False),  # 劳动节
        (D(2024, 5, 11), True),  # Saturday, make-up day for 劳动节 2024
        (D(2024, 10, 7), False),  # last day of 国庆 2024
        (D(2024, 10, 12), True),  # Saturday, make-up day for 国庆 2024
        (D(2025, 1, 26), True),  # Sunday, make-up day before 春节 2025
        (D(2025, 1, 28), False),  # 除夕 2025 (a statutory day from 2025 on)
        (D(2025, 2, 8), True),  # Saturday, make-up day after 春节 2025
        (D(2025, 4, 27), True),  # Sunday, make-up day for 劳动节 2025
        (D(2025, 5, 5), False),  # 劳动节 2025
        (D(2025, 9, 28), True),  # Sunday, make-up day before 国庆 2025
        (D(2025, 10, 8), False),  # 国庆 and 中秋 2025, the eighth day
        (D(2025, 10, 11), True),  # Saturday, make-up day after 国庆 2025
        (D(2025, 10, 12), False),  # an ordinary Sunday
        (D(2025, 10, 13), True),  # an ordinary Monday
    ],
)
def test_national_calendar(day, working):
    assert is_working_day(day) is working


def test_nth_working_day_skips_the_whole_spring_festival():
    # Received on 除夕 2024 (Friday 02-09, still a working day that year); 02-10..02-17 off.
    assert working_days_after(D(2024, 2, 9), 1) == D(2024, 2, 18)  # the make-up Sunday
    assert working_days_after(D(2024, 2, 9), 3) == D(2024, 2, 20)


def test_receipt_day_never_counts_whatever_the_hour():
    early = dt.datetime(2025, 9, 26, 0, 5, tzinfo=SH)  # Friday just after midnight
    late = dt.datetime(2025, 9, 26, 23, 55, tzinfo=SH)
    assert working_days_after(early, 1) == working_days_after(late, 1) == D(2025, 9, 28)
    # 1 working day after the make-up Sunday is Monday the 29th; 3 after it is 10-09.
    assert working_days_after(D(2025, 9, 28), 1) == D(2025, 9, 29)
    assert working_days_after(D(2025, 9, 28), 3) == D(2025, 10, 9)


def test_aware_datetime_is_read_in_the_clinic_zone():
    # 2025-09-30 17:00 UTC is 10-01 01:00 in Shanghai: the day of receipt is 国庆 day one.
    at = dt.datetime(2025, 9, 30, 17, 0, tzinfo=dt.UTC)
    assert working_days_after(at, 1) == D(2025, 10, 9)
    with pytest.raises(ValueError):
        working_days_after(dt.datetime(2025, 9, 30, 17, 0), 1)


def test_deadline_is_the_end_of_the_day():
    at = dt.datetime(2025, 4, 30, 9, 0, tzinfo=SH)  # the day before 劳动节 2025
    deadline = deadline_after(at, 1)
    assert deadline == dt.datetime(2025, 5, 7, 0, 0, tzinfo=SH)  # the end of Tuesday 05-06


def test_working_days_between():
    assert working_days_between(D(2025, 9, 26), D(2025, 10, 9)) == 4  # 09-28, 29, 30, 10-09
    assert working_days_between(D(2025, 10, 9), D(2025, 10, 9)) == 0


def test_labour_day_2024_with_its_make_up_saturday():
    # 2024-04-30 Tuesday; holiday 05-01..05-05; 05-11 Saturday is a working day.
    assert working_days_after(D(2024, 4, 30), 1) == D(2024, 5, 6)
    assert working_days_after(D(2024, 5, 10), 1) == D(2024, 5, 11)


def test_branch_closure_and_extra_working_day(branch):
    CalendarDay.objects.create(branch=branch, day=D(2025, 10, 13), is_working_day=False, note="装修")
    CalendarDay.objects.create(branch=branch, day=D(2025, 10, 12), is_working_day=True, note="加班")
    assert is_working_day(D(2025, 10, 13)) is True
    assert is_working_day(D(2025, 10, 13), branch=branch) is False
    assert is_working_day(D(2025, 10, 12), branch=branch) is True
    assert working_days_after(D(2025, 10, 11), 2, branch=branch) == D(2025, 10, 14)
    assert working_days_after(D(2025, 10, 11), 2) == D(2025, 10, 14)
    assert working_days_after(D(2025, 10, 11), 1, branch=branch) == D(2025, 10, 12)


def test_beyond_the_library_falls_back_to_weekdays_and_warns(caplog, monkeypatch):
    year = 2031
    assert not workdays.library_covers(year)
    monkeypatch.setattr(workdays, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="clinic.workdays"):
        assert is_working_day(D(year, 1, 1)) is True  # New Year's Day, but unknown: a Wednesday
        assert is_working_day(D(year, 1, 4)) is False  # a Saturday
    assert any(str(year) in r.getMessage() for r in caplog.records)
    assert year in workdays.missing_years(D(year, 3, 1))
    assert workdays.missing_years(D(2025, 3, 1)) == []


def test_system_check_reports_a_missing_year(monkeypatch):
    from clinic.checks import working_day_calendar

    monkeypatch.setattr(workdays, "missing_years", lambda today=None: [2031])
    messages = working_day_calendar(None)
    assert [m.id for m in messages] == ["clinic.I001"]
    assert not any(m.is_serious() for m in messages)


def test_admin_changelist_warns_hq(client_for, hq_admin, monkeypatch):
    monkeypatch.setattr(workdays, "missing_years", lambda today=None: [2031])
    response = client_for(hq_admin).get("/admin/clinic/calendarday/", follow=True)
    assert response.status_code == 200
    assert "2031" in response.content.decode()
