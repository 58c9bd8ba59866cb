"""The contact cap (issue 16): at most N marketing messages per person per 30 days, across
every app that writes to the outbox, HQ-configurable (``ContactCap``).

What counts: every outbox row of the person (``person_key``) created in the window that is
not failed or skipped, and that is either of purpose *marketing* or of a template registered
here as capped: messages that are service by purpose (no marketing consent needed) but are
still "marketing contact" for the cap — birthday greetings, check-up recalls, campaign
reminders. Care and service messages (appointment reminders, care instructions) are neither
counted nor capped.

Enforced where messages are queued: ``notification_enqueue`` (one message, under an advisory
lock on the person, so two queues for one person cannot both take the last place) and
``enqueue_select`` (a set-based INSERT … SELECT whose WHERE holds the same count).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from .models import ContactCap, Outbox, Purpose, Status

_CAPPED: set[str] = set()


def register_capped(keys: Iterable[str]) -> None:
    """Template keys sent as service messages that still count toward (and are held by) the
    contact cap. Called by the apps at import of their labels."""
    _CAPPED.update(keys)


def capped_templates() -> frozenset[str]:
    return frozenset(_CAPPED)


def is_capped(*, purpose: str, template_key: str) -> bool:
    return purpose == Purpose.MARKETING or template_key in _CAPPED


def policy() -> ContactCap:
    return ContactCap.objects.filter(pk=1).first() or ContactCap(pk=1)


def member_person_key(member_id: int) -> str:
    return f"member:{member_id}"


# The counted rows, as SQL over an outbox alias ``o`` (params: since, capped keys). The
# ``person_key <> ''`` lets the planner use the partial index ``outbox_person_idx`` when the
# key is an expression (a literal it can check itself).
COUNTED_SQL = (
    "o.person_key <> '' AND o.status NOT IN ('failed', 'skipped') AND o.created_at >= %s"
    " AND (o.purpose = 'marketing' OR o.template_key = ANY(%s))"
)


def window_start(cap: ContactCap, now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=cap.days)


def used(person_key: str, *, cap: ContactCap | None = None, now: dt.datetime | None = None) -> int:
    cap = cap or policy()
    return (
        Outbox.objects.filter(person_key=person_key, created_at__gte=window_start(cap, now))
        .exclude(status__in=[Status.FAILED, Status.SKIPPED])
        .filter(_counted_q())
        .count()
    )


def _counted_q():
    from django.db.models import Q

    return Q(purpose=Purpose.MARKETING) | Q(template_key__in=sorted(_CAPPED))


def lock_person(person_key: str) -> None:
    """Serialise cap checks of one person until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"contact-cap:{person_key}".encode())])


def over_cap(person_key: str) -> bool:
    """Whether one more capped message would exceed the cap (call inside a transaction after
    ``lock_person``)."""
    cap = policy()
    if not cap.is_active or not person_key:
        return False
    return used(person_key, cap=cap) >= cap.limit
