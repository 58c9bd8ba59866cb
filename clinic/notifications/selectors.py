"""Reads of the outbox, scoped to the branches the user may see."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from clinic.phones import mask_phone
from clinic.selectors import scope_to_branches

from .models import Channel, Outbox, Status


def mask_recipient(channel: str, value: str) -> str:
    """Phones as ``138****5678``; e-mail as ``z***@example.com``; openids cut short."""
    if channel == Channel.SMS:
        return mask_phone(value)
    if channel == Channel.EMAIL and "@" in value:
        local, _at, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{value[:4]}…{value[-2:]}" if len(value) > 8 else "****"


def outbox_for_user(user) -> QuerySet[Outbox]:
    """Messages of the user's branches (all of them for HQ); rows without a branch only for
    those who see every branch."""
    return scope_to_branches(Outbox.objects.select_related("branch"), user)


def outbox_list(
    user,
    *,
    status: str = "",
    channel: str = "",
    purpose: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[Outbox]:
    qs = outbox_for_user(user)
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    if purpose:
        qs = qs.filter(purpose=purpose)
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(created_at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=tz))
    if date_to:
        qs = qs.filter(
            created_at__lt=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        )
    return qs.order_by("-created_at", "-id")


def outbox_daily_counts(qs: QuerySet[Outbox], *, days: int = 14) -> list[dict]:
    """Messages per day (clinic time) and status, newest day first."""
    since = timezone.now() - dt.timedelta(days=days)
    rows = (
        qs.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            total=Count("id"),
            **{status: Count("id", filter=Q(status=status)) for status in Status.values},
        )
        .order_by("-day")
    )
    return list(rows)


def get_outbox_for_user(user, pk: int, *, write: bool = False) -> Outbox:
    """404 outside the user's branches, 403 when visible but not theirs to resend."""
    row = outbox_for_user(user).filter(pk=pk).first()
    if row is None:
        raise Http404
    if write and not user.has_perm("notifications.resend_outbox"):
        raise PermissionDenied
    return row


__all__ = ["get_outbox_for_user", "mask_recipient", "outbox_daily_counts", "outbox_list", "settings"]
