"""Extension points for higher apps, so ``appointments`` never imports them.

- **Arrival notes**: ``register_arrival_notes(fn)``; ``fn(appointments, user)`` returns
  ``{appointment id: [ArrivalNote, ...]}`` for a list of bookings, in a constant number of
  queries. The front desk's today board and the booking page show them, so that whoever
  receives or triages the person knows what they asked before (marketing: their
  consultations). A source returns nothing for a user who may not see it.
- **Price rules**: ``register_price_rules(fn)``; ``fn(visit, item_ids)`` returns the
  :class:`appointments.pricing.PriceRule` quotes that hold for this visit today (marketing:
  member-day prices of a campaign running at the visit's branch). Checkout applies them
  after the yearly benefits and before the tier discount, and the receipt names them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class ArrivalNote:
    title: str | Promise
    detail: str = ""
    url: str = ""
    icon: str = "bi-chat-left-text"


ARRIVAL_NOTES: list[Callable[[list, Any], dict[int, list[ArrivalNote]]]] = []


def register_arrival_notes(fn: Callable[[list, Any], dict[int, list[ArrivalNote]]]) -> None:
    if fn not in ARRIVAL_NOTES:
        ARRIVAL_NOTES.append(fn)


def attach_arrival_notes(appointments: Iterable, user) -> None:
    """Set ``appt.arrival_notes`` (a list) on each booking, from every registered source."""
    appointments = list(appointments)
    for appt in appointments:
        appt.arrival_notes = []
    if not appointments:
        return
    by_id = {a.pk: a for a in appointments}
    for fn in ARRIVAL_NOTES:
        for pk, notes in fn(appointments, user).items():
            if pk in by_id:
                by_id[pk].arrival_notes.extend(notes)


PRICE_RULES: list[Callable[[Any, set[int]], list]] = []


def register_price_rules(fn: Callable[[Any, set[int]], list]) -> None:
    if fn not in PRICE_RULES:
        PRICE_RULES.append(fn)


def price_rules(visit, item_ids: set[int]) -> list:
    """Every registered source's price rules for ``visit``'s items."""
    rules = []
    for fn in PRICE_RULES:
        rules.extend(fn(visit, item_ids))
    return rules
