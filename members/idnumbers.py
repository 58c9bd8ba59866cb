"""Chinese resident ID numbers (居民身份证, GB 11643-1999): checksum, birth date, gender."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


class IdNumberError(ValueError):
    pass


def check_char(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalize_id_number(raw: str) -> str:
    """Return the 18-character form (upper-case X) or raise IdNumberError."""
    value = "".join((raw or "").split()).upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise IdNumberError("format")
    if check_char(value[:17]) != value[17]:
        raise IdNumberError("checksum")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise IdNumberError("birth date") from exc
    if birth.year < 1900 or birth > timezone.localdate():
        raise IdNumberError("birth date")
    return value


def birth_date_of(value: str) -> dt.date:
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def gender_of(value: str) -> str:
    """``"M"`` or ``"F"``: the 17th digit is odd for men."""
    return "M" if int(value[16]) % 2 else "F"


def mask_id_number(value: str | None) -> str:
    """``110***********123X``: the region's first three and the last four characters."""
    if not value:
        return ""
    if len(value) < 8:
        return "*" * len(value)
    return f"{value[:3]}{'*' * (len(value) - 7)}{value[-4:]}"
