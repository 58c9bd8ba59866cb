"""The working-day calendar (DESIGN.md §3 Complaints): China's statutory holidays and the 调休
make-up working days from the ``chinesecalendar`` package, plus each branch's own closures
and extra working days (``clinic.CalendarDay``, edited in admin).

* ``is_working_day(day, branch=...)``: a branch's own row for that day wins; then the
  library (a make-up Saturday or Sunday is a working day, a statutory holiday is not);
  for a year the library has no data for, Monday to Friday, with a warning in the log (and
  an admin notice and a system check, :func:`missing_years`) — a date beyond the data never
  silently counts as a working day the way the library would if it guessed.
* ``working_days_after(start, n)``: the date of the n-th working day after the day of
  ``start``; that day itself never counts, whatever the hour. A deadline is the end of the
  day returned (:func:`deadline_after`).
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache

from django.utils import timezone

log = logging.getLogger(__name__)

__all__ = [
    "deadline_after",
    "is_working_day",
    "library_covers",
    "missing_years",
    "working_days_after",
    "working_days_between",
]


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            raise ValueError("working days need an aware datetime (USE_TZ)")
        return timezone.localtime(value).date()
    return value


@lru_cache(maxsize=64)
def library_covers(year: int) -> bool:
    """Whether chinesecalendar knows the holidays of ``year``."""
    import chinese_calendar

    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


_warned: set[int] = set()


def _library_working_day(day: dt.date) -> bool:
    import chinese_calendar

    if not library_covers(day.year):
        if day.year not in _warned:
            _warned.add(day.year)
            log.warning(
                "chinesecalendar has no holidays for %s: counting Monday to Friday as working days. "
                "Upgrade the chinesecalendar package once the State Council publishes the calendar.",
                day.year,
            )
        return day.weekday() < 5
    return chinese_calendar.is_workday(day)


def missing_years(today: dt.date | None = None) -> list[int]:
    """This year and next, where the library has no data yet: what HQ is warned about."""
    today = today or timezone.localdate()
    return [y for y in (today.year, today.year + 1) if not library_covers(y)]


def _branch_days(branch, start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    if branch is None:
        return {}
    from .models import CalendarDay

    branch_id = getattr(branch, "pk", branch)
    return dict(
        CalendarDay.objects.filter(branch_id=branch_id, day__range=(start, end)).values_list(
            "day", "is_working_day"
        )
    )


def is_working_day(day: dt.date | dt.datetime, *, branch=None) -> bool:
    day = _as_date(day)
    own = _branch_days(branch, day, day)
    if day in own:
        return own[day]
    return _library_working_day(day)


def working_days_after(start: dt.date | dt.datetime, n: int, *, branch=None) -> dt.date:
    """The n-th working day after the day of ``start`` (n ≥ 1; n = 0 is that day itself).
    One query for the branch's own days over the window, however long the holiday."""
    if n < 0:
        raise ValueError("n must not be negative")
    day = _as_date(start)
    if n == 0:
        return day
    # One query per window: the longest run of non-working days in China is about 9 days.
    window = dt.timedelta(days=n * 2 + 30)
    fetched_until = day + window
    own = _branch_days(branch, day, fetched_until)
    counted = 0
    while True:
        day += dt.timedelta(days=1)
        if day > fetched_until:
            own.update(_branch_days(branch, day, day + window))
            fetched_until = day + window
        working = own[day] if day in own else _library_working_day(day)
        if working:
            counted += 1
            if counted == n:
                return day


def deadline_after(start: dt.datetime, n: int, *, branch=None) -> dt.datetime:
    """The end of the n-th working day after ``start``: midnight that ends it, in the clinic's
    time zone (an aware datetime)."""
    day = working_days_after(start, n, branch=branch)
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)
    return timezone.make_aware(midnight, timezone.get_default_timezone())


def working_days_between(start: dt.date | dt.datetime, end: dt.date | dt.datetime, *, branch=None) -> int:
    """How many working days lie after the day of ``start`` up to and including the day of
    ``end`` (0 when ``end`` falls on the same day or earlier)."""
    first, last = _as_date(start), _as_date(end)
    if last <= first:
        return 0
    own = _branch_days(branch, first, last)
    count, day = 0, first
    while day < last:
        day += dt.timedelta(days=1)
        if own[day] if day in own else _library_working_day(day):
            count += 1
    return count
