"""Reading raw query parameters (``request.GET``) that no form binds: ids, day counts and
moments passed between pages. Anything malformed, out of range or far off reads as missing,
so a hand-edited URL never reaches the database or date arithmetic with it (no 500s).
Parameters a form binds are checked by the form's fields (``clinic.fields``)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone

from .fields import EARLIEST_DATE, LATEST_DATE

# PostgreSQL's bigint; ids and counts beyond it are malformed.
MAX_INT = 2**63 - 1


def query_int(request: HttpRequest, name: str, *, minimum: int = 1, maximum: int = MAX_INT) -> int | None:
    """``?name=`` as an int in ``[minimum, maximum]`` (ASCII digits, optional minus), else None."""
    return parse_int(request.GET.get(name), minimum=minimum, maximum=maximum)


def parse_int(raw: str | None, *, minimum: int = 1, maximum: int = MAX_INT) -> int | None:
    """``raw`` (e.g. an id posted by hand) as an int in ``[minimum, maximum]``, else None.
    ``str.isdigit()`` is not enough: it is true for "²", which ``int()`` refuses."""
    raw = (raw or "").strip()
    body = raw[1:] if raw.startswith("-") else raw
    if not body or len(body) > 19 or not body.isascii() or not body.isdigit():
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


def query_datetime(request: HttpRequest, name: str) -> dt.datetime | None:
    """``?name=`` as an ISO date-time, in the clinic's zone (naive means local), between
    1900 and 2100, else None."""
    raw = request.GET.get(name, "").strip()
    if not raw or len(raw) > 40:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if not EARLIEST_DATE <= moment.date() <= LATEST_DATE:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return timezone.localtime(moment)
