"""Reads of broadcasts, scoped to the viewer's branches: the list, one broadcast, its
preview per channel and its results from the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from clinic.notifications.models import Channel, Outbox, Purpose, Status
from clinic.notifications.rendering import render_text
from clinic.notifications.unsubscribe import with_opt_out
from clinic.selectors import scope_to_branches

from .broadcast_models import Broadcast, BroadcastRecipient
from .broadcast_services import cost_estimate, sms_parts


def broadcasts_for_user(user) -> QuerySet[Broadcast]:
    return scope_to_branches(
        Broadcast.objects.select_related("branch", "segment", "created_by__staff", "approved_by__staff"), user
    )


def get_broadcast_for_user(user, pk: int, *, perm: str = "marketing.view_broadcast") -> Broadcast:
    """404 outside the user's branches, 403 when visible but ``perm`` is missing."""
    if not user.has_perm("marketing.view_broadcast"):
        raise PermissionDenied
    broadcast = broadcasts_for_user(user).filter(pk=pk).first()
    if broadcast is None:
        raise Http404
    if not user.has_perm(perm):
        raise PermissionDenied
    return broadcast


@dataclass(frozen=True)
class Preview:
    channel: str
    subject: str
    body: str
    length: int
    parts: int
    cost: Decimal | None


def preview(
    *, channel: str, body: str, subject: str = "", people: int = 0, sample: dict | None = None
) -> Preview:
    """The text as one person would get it (sample values), its SMS length and parts, and the
    cost estimate for ``people`` (SMS only)."""
    values = {"name": "张三", "branch": "静安店", **(sample or {})}
    # The way out the sender adds to every marketing message counts toward the length.
    text, _url = with_opt_out(
        channel=channel,
        recipient="preview@example.com" if channel == Channel.EMAIL else "+8613800000000",
        purpose=Purpose.MARKETING,
        language=settings.LANGUAGE_CODE,  # most people get the clinic's language
        body=render_text(body or "", values),
    )
    return Preview(
        channel=channel,
        subject=render_text(subject or "", values),
        body=text,
        length=len(text),
        parts=sms_parts(text) if channel == Channel.SMS else 0,
        cost=cost_estimate(text, people) if channel == Channel.SMS else None,
    )


def broadcast_results(broadcast: Broadcast) -> dict[str, int]:
    """How the queued messages stand now, by outbox status (every status present), and how
    many the providers reported delivered or undelivered (SMS delivery reports)."""
    counts = dict.fromkeys(Status.values, 0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.status, count(*) FROM {BroadcastRecipient._meta.db_table} r"
            f" JOIN {Outbox._meta.db_table} o ON o.dedupe_key = 'broadcast:' || r.broadcast_id || ':' || r.member_id"
            " WHERE r.broadcast_id = %s AND r.outcome = 'included' GROUP BY o.status",
            [broadcast.pk],
        )
        for status, n in cursor.fetchall():
            counts[status] = n
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE o.delivered_at IS NOT NULL),"
            f" count(*) FILTER (WHERE o.delivery_error <> '')"
            f" FROM {BroadcastRecipient._meta.db_table} r"
            f" JOIN {Outbox._meta.db_table} o ON o.dedupe_key = 'broadcast:' || r.broadcast_id || ':' || r.member_id"
            " WHERE r.broadcast_id = %s AND r.outcome = 'included'",
            [broadcast.pk],
        )
        counts["delivered"], counts["undelivered"] = cursor.fetchone()
    return counts
