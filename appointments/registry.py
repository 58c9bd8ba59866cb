"""Extension points for higher apps, so ``appointments`` never imports them.

- **Arrival notes**: ``register_arrival_notes(fn)``; ``fn(appointments, user)`` returns
  ``{appointment id: [ArrivalNote, ...]}`` for a list of bookings, in a constant number of
  queries. The front desk's today board and the booking page show them, so that whoever
  receives or triages the person knows what they asked before (marketing: their
  consultations). A source returns nothing for a user who may not see it.
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
