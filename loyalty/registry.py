"""What higher apps add to loyalty at start-up (DESIGN.md §2: a lower app offers a registry,
a higher one fills it).

Keep credits: extra qualifying visits a member earned by something loyalty does not know
about, counted at the tier's anniversary review toward *keeping* the tier they hold (never
toward an upgrade). ``followups`` registers one: every recall kept on time in the review's
12 months counts as one visit (docs/recall.md).

A credit function takes ``(member_id, since, until)`` (aware datetimes: the 12 months that
the review looks at) and returns how many visits to add; it must be a cheap, read-only query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

KeepCredit = Callable[[int, dt.datetime, dt.datetime], int]

KEEP_CREDITS: dict[str, KeepCredit] = {}


def register_keep_credit(name: str, fn: KeepCredit) -> None:
    """Register (or replace, by name) a keep-credit source."""
    KEEP_CREDITS[name] = fn


def keep_credits(member_id: int, since: dt.datetime, until: dt.datetime) -> int:
    """The extra visits every registered source credits to this member in (since, until]."""
    return sum(max(int(fn(member_id, since, until)), 0) for fn in KEEP_CREDITS.values())
