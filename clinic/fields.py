"""Form fields every app's forms use for free text and dates, so that the shape of input is
checked once: no invisible control characters in names and short texts, and no date outside a
range the clinic can work with (a far-off date overflows date arithmetic in the day and week
views, and a booking on 9999-12-31 would break that day for good).

The widgets render dates and times in ISO form (``clinic/formats/``), which is what
``<input type="date">`` and ``type="time"`` need in every language.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

# Unicode categories nobody types into a name or a short text: control characters (Cc, incl.
# NUL and escape), format characters (Cf: the right-to-left override U+202E that makes
# "gpj.exe" read backwards, zero-width spaces and joiners, BOM), surrogates, private use,
# unassigned code points and line/paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# What a multi-line text (notes) may contain besides printable text.
_MULTILINE_ALLOWED = frozenset("\n\r\t")

# The widest range any date input accepts; narrower fields (birth dates, bookings) narrow it.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


def hidden_characters(value: str, *, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The invisible or control characters in ``value``, as ``U+XXXX`` codes (deduplicated)."""
    found: list[str] = []
    for ch in value:
        if ch in allowed or unicodedata.category(ch) not in _HIDDEN_CATEGORIES:
            continue
        code = f"U+{ord(ch):04X}"
        if code not in found:
            found.append(code)
    return found


def validate_no_hidden_characters(value: str) -> None:
    """Refuse control and invisible formatting characters in a one-line text."""
    _refuse(hidden_characters(str(value)))


def validate_no_hidden_characters_multiline(value: str) -> None:
    """Like ``validate_no_hidden_characters``, but line breaks and tabs are fine."""
    _refuse(hidden_characters(str(value), allowed=_MULTILINE_ALLOWED))


def _refuse(found: list[str]) -> None:
    if found:
        raise ValidationError(
            _("Remove the invisible or control characters (%(chars)s)."),
            code="hidden_characters",
            params={"chars": ", ".join(found[:5])},
        )


class ShortTextField(forms.CharField):
    """A name or a one-line text: trimmed, with no control or invisible characters."""

    default_validators = [validate_no_hidden_characters]


class LongTextField(forms.CharField):
    """Notes and other multi-line text: line breaks allowed, other control characters not.
    Line breaks are stored as "\n": browsers post a textarea's breaks as "\r\n", so without
    this, saving a form unchanged would change every multi-line note."""

    widget = forms.Textarea
    default_validators = [validate_no_hidden_characters_multiline]

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


DateBound = dt.date | Callable[[], dt.date] | None


class DateField(forms.DateField):
    """A date between ``min_date`` and ``max_date`` (dates or callables, evaluated per clean;
    default: 1900-01-01 to 2100-12-31). The browser's date picker gets the same bounds."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def __init__(self, *, min_date: DateBound = EARLIEST_DATE, max_date: DateBound = LATEST_DATE, **kwargs):
        self.min_date = min_date
        self.max_date = max_date
        super().__init__(**kwargs)

    def bounds(self) -> tuple[dt.date, dt.date]:
        low = self.min_date() if callable(self.min_date) else self.min_date
        high = self.max_date() if callable(self.max_date) else self.max_date
        return max(low or EARLIEST_DATE, EARLIEST_DATE), min(high or LATEST_DATE, LATEST_DATE)

    def __deepcopy__(self, memo):
        # Each form instance gets a copy of its fields: the picker's bounds are today's.
        result = super().__deepcopy__(memo)
        if getattr(result.widget, "input_type", None) == "date":
            low, high = result.bounds()
            result.widget.attrs.update(min=low.isoformat(), max=high.isoformat())
        return result

    def validate(self, value):
        super().validate(value)
        if value in self.empty_values:
            return
        low, high = self.bounds()
        if value < low:
            raise ValidationError(
                _("Enter a date on or after %(date)s."),
                code="date_too_early",
                params={"date": formats.date_format(low, "DATE_FORMAT")},
            )
        if value > high:
            raise ValidationError(
                _("Enter a date on or before %(date)s."),
                code="date_too_late",
                params={"date": formats.date_format(high, "DATE_FORMAT")},
            )


def booking_horizon_days() -> int:
    return int(settings.CLINIC_BOOKING_HORIZON_DAYS)


def latest_booking_date() -> dt.date:
    """The last day a booking, a move or a doctor's leave may be on (the booking horizon)."""
    return timezone.localdate() + dt.timedelta(days=booking_horizon_days())


def earliest_view_date() -> dt.date:
    """How far back the schedule views go (the clinic's history, not the year 1)."""
    return timezone.localdate() - dt.timedelta(days=366 * 20)


class BookingDateField(DateField):
    """A day to book on or move to: from today up to the booking horizon."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_date", timezone.localdate)
        kwargs.setdefault("max_date", latest_booking_date)
        super().__init__(**kwargs)


class ScheduleDateField(DateField):
    """A day to look at in the schedule: twenty years back up to the booking horizon."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_date", earliest_view_date)
        kwargs.setdefault("max_date", latest_booking_date)
        super().__init__(**kwargs)


class BirthDateField(DateField):
    """A birth date: 1900-01-01 up to today."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_date", EARLIEST_DATE)
        kwargs.setdefault("max_date", timezone.localdate)
        super().__init__(**kwargs)
