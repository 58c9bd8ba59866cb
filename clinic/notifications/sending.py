"""The sender: claim due rows, render, send, record; retry with backoff; recover rows a
dead worker left in ``sending``.

The state machine (every transition is a conditional UPDATE, so two workers can never both
own a row):

    pending ──claim──▶ sending ──▶ sent
       ▲                  │ ├────▶ failed   (permanent error, or attempts used up)
       └──transient error─┘ └────▶ skipped  (recipient opted out)

A row is claimed in a short transaction (``select_for_update(skip_locked=True)`` then an
UPDATE that stamps the worker's ``claim_token``); the provider is called outside any
transaction, and the result is written only ``WHERE claim_token = <ours>``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid
import zlib
from collections import Counter
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.phones import is_mobile

from . import conf
from .backends import BaseBackend, Delivery, Message, get_backend
from .errors import SendError, TemplateRenderError
from .models import Channel, OptOut, OptOutScope, Outbox, Purpose, Status
from .rendering import Rendered, find_template, render_template
from .unsubscribe import with_opt_out

logger = logging.getLogger(__name__)


def in_quiet_hours(at: dt.datetime) -> bool:
    """Whether ``at`` falls in the marketing quiet hours, in the clinic's time zone."""
    hours = conf.quiet_hours()
    if hours is None:
        return False
    start, end = hours
    local = at.astimezone(ZoneInfo(settings.TIME_ZONE)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff: base, 2×base, 4×base… capped."""
    base = conf.get("NOTIFICATIONS_RETRY_BASE_SECONDS")
    cap = conf.get("NOTIFICATIONS_RETRY_MAX_SECONDS")
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _rate_allowance(channel: str, now: dt.datetime) -> int | None:
    """How many more messages ``channel`` may send in the current minute (None: no limit).

    Called inside the claim transaction after an advisory lock on the channel, so two
    senders cannot both see the same headroom.
    """
    limit = (conf.get("NOTIFICATIONS_RATE_LIMITS") or {}).get(channel) or 0
    if limit <= 0:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"outbox-rate:{channel}".encode())])
    used = Outbox.objects.filter(channel=channel, claimed_at__gt=now - dt.timedelta(minutes=1)).count()
    return max(0, limit - used)


def outbox_claim(*, token: str, limit: int, now: dt.datetime | None = None) -> list[int]:
    """Move up to ``limit`` due rows to ``sending`` for the worker holding ``token``.

    ``skip_locked`` lets concurrent senders each take different rows instead of queueing
    behind one another; the UPDATE stamps the token that every later write checks.
    Marketing rows are left alone during quiet hours, and each channel gets no more than
    its rate limit allows.
    """
    now = now or timezone.now()
    quiet = in_quiet_hours(now)
    claimed: list[int] = []
    for channel in Channel.values:
        with transaction.atomic():
            allowance = _rate_allowance(channel, now)
            take = limit if allowance is None else min(limit, allowance)
            if take <= 0:
                continue
            qs = Outbox.objects.filter(status=Status.PENDING, channel=channel, next_attempt_at__lte=now)
            if quiet:
                qs = qs.exclude(purpose=Purpose.MARKETING)
            ids = list(
                qs.order_by("next_attempt_at", "id")
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[:take]
            )
            if ids:
                Outbox.objects.filter(pk__in=ids).update(
                    status=Status.SENDING,
                    claim_token=token,
                    claimed_at=now,
                    attempts=F("attempts") + 1,
                )
                claimed.extend(ids)
    return claimed


def _finish(row: Outbox, token: str, **fields) -> bool:
    """Write a send's outcome, only if this worker still owns the row."""
    done = Outbox.objects.filter(pk=row.pk, status=Status.SENDING, claim_token=token).update(**fields)
    if not done:
        logger.warning("outbox %s changed hands while sending; outcome not recorded", row.pk)
    return bool(done)


class _Run:
    """One sender run: backends and templates are loaded once, not per message."""

    def __init__(self):
        self.backends: dict[str, BaseBackend] = {}
        self.templates: dict[tuple[str, str, str], object] = {}
        self.unsubscribe_urls: dict[int, str] = {}

    def backend(self, channel: str) -> BaseBackend:
        if channel not in self.backends:
            self.backends[channel] = get_backend(channel)
        return self.backends[channel]

    def render(self, row: Outbox) -> Rendered:
        key = (row.template_key, row.channel, row.language)
        template = self.templates.get(key)
        if template is None:
            template = self.templates[key] = find_template(*key)
        rendered = render_template(template, row.params or {})
        body, self.unsubscribe_urls[row.pk] = with_opt_out(
            channel=row.channel,
            recipient=row.recipient,
            purpose=row.purpose,
            language=rendered.language,
            body=rendered.body,
        )
        return dataclasses.replace(rendered, body=body)

    def message(self, row: Outbox, rendered: Rendered | None) -> Message:
        extra = {"claimed_at": row.claimed_at}
        if self.unsubscribe_urls.get(row.pk):
            extra["unsubscribe_url"] = self.unsubscribe_urls[row.pk]
        return Message(
            outbox_id=row.pk,
            channel=row.channel,
            recipient=row.recipient,
            language=row.language,
            subject=rendered.subject if rendered else "",
            body=rendered.body if rendered else "",
            params=row.params or {},
            template=rendered.template if rendered else None,
            purpose=row.purpose,
            extra=extra,
        )

    def close(self) -> None:
        for backend in self.backends.values():
            backend.close()


def _opted_out(rows: list[Outbox]) -> dict[tuple[str, str], str]:
    pairs = {(r.channel, r.recipient) for r in rows}
    if not pairs:
        return {}
    found = OptOut.objects.filter(recipient__in={p[1] for p in pairs}).values_list(
        "channel", "recipient", "scope"
    )
    return {(c, r): s for c, r, s in found if (c, r) in pairs}


def _deliver(run: _Run, row: Outbox, token: str, opt_outs: dict[tuple[str, str], str]) -> str:
    scope = opt_outs.get((row.channel, row.recipient))
    if scope == OptOutScope.ALL or (scope == OptOutScope.MARKETING and row.purpose == Purpose.MARKETING):
        _finish(row, token, status=Status.SKIPPED, last_error=_("The recipient opted out of these messages."))
        return Status.SKIPPED
    if row.channel == Channel.SMS and not is_mobile(row.recipient):
        # The 手机号 field accepts landlines (a family's home phone): never text one.
        _finish(
            row, token, status=Status.SKIPPED, last_error=_("The number is a landline: SMS cannot reach it.")
        )
        return Status.SKIPPED
    try:
        rendered = run.render(row)
    except TemplateRenderError as exc:
        _finish(row, token, status=Status.FAILED, last_error=str(exc.message))
        return Status.FAILED
    try:
        provider_id = run.backend(row.channel).send(run.message(row, rendered))
    except SendError as exc:
        return _after_error(row, token, exc, permanent=exc.permanent, body=rendered.body)
    except Exception as exc:  # an unexpected backend error is retried like a transient one
        logger.exception("outbox %s: backend error", row.pk)
        return _after_error(row, token, exc, permanent=False, body=rendered.body)
    _finish(
        row,
        token,
        status=Status.SENT,
        provider_message_id=(provider_id or "")[:128],
        sent_at=timezone.now(),
        body=rendered.body,
        last_error="",
    )
    return Status.SENT


def _after_error(row: Outbox, token: str, exc: Exception, *, permanent: bool, body: str) -> str:
    error = str(exc)[:2000] or type(exc).__name__
    if permanent or row.attempts >= conf.get("NOTIFICATIONS_MAX_ATTEMPTS"):
        _finish(row, token, status=Status.FAILED, last_error=error, body=body)
        return Status.FAILED
    _finish(
        row,
        token,
        status=Status.PENDING,
        last_error=error,
        body=body,
        next_attempt_at=timezone.now() + retry_delay(row.attempts),
        claim_token="",
    )
    return Status.PENDING


def outbox_send_claimed(*, ids: list[int], token: str, run: _Run | None = None) -> Counter:
    """Send the rows this worker claimed. Each outcome is written as soon as it is known."""
    own_run = run is None
    run = run or _Run()
    counts: Counter = Counter()
    try:
        rows = list(
            Outbox.objects.filter(pk__in=ids, claim_token=token, status=Status.SENDING).order_by("id")
        )
        opt_outs = _opted_out(rows)
        for row in rows:
            counts[_deliver(run, row, token, opt_outs)] += 1
    finally:
        if own_run:
            run.close()
    return counts


def outbox_recover_stuck(*, now: dt.datetime | None = None, limit: int = 500) -> Counter:
    """Settle rows left in ``sending`` by a worker that died mid-send.

    The provider is asked by our id whether it already has the message (Aliyun ``OutId``,
    Tencent ``SessionContext``, the file name…): if so the row is marked sent, if it surely
    does not the row goes back to pending, and if the provider cannot tell, the row fails
    with a note for staff, because sending it again could send it twice.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=conf.get("NOTIFICATIONS_SENDING_TIMEOUT_SECONDS"))
    stuck = list(Outbox.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff).order_by("id")[:limit])
    counts: Counter = Counter()
    run = _Run()
    try:
        for row in stuck:
            token = uuid.uuid4().hex
            taken = Outbox.objects.filter(
                pk=row.pk, status=Status.SENDING, claim_token=row.claim_token, claimed_at=row.claimed_at
            ).update(claim_token=token)
            if not taken:
                continue
            try:
                rendered = run.render(row)
            except TemplateRenderError:
                rendered = None
            try:
                result = run.backend(row.channel).lookup(run.message(row, rendered))
            except SendError as exc:
                # Ask again after another timeout; never guess.
                _finish(row, token, claimed_at=now, last_error=str(exc)[:2000])
                counts["unresolved"] += 1
                continue
            if result.delivery is Delivery.SENT:
                _finish(
                    row,
                    token,
                    status=Status.SENT,
                    provider_message_id=result.provider_message_id[:128],
                    sent_at=now,
                    body=rendered.body if rendered else row.body,
                    last_error="",
                )
                counts[Status.SENT] += 1
            elif result.delivery is Delivery.NOT_SENT:
                if row.attempts >= conf.get("NOTIFICATIONS_MAX_ATTEMPTS"):
                    _finish(
                        row, token, status=Status.FAILED, last_error=_("Sending was interrupted too often.")
                    )
                    counts[Status.FAILED] += 1
                else:
                    _finish(row, token, status=Status.PENDING, next_attempt_at=now, claim_token="")
                    counts[Status.PENDING] += 1
            else:
                _finish(
                    row,
                    token,
                    status=Status.FAILED,
                    last_error=_(
                        "Sending was interrupted and the provider cannot tell whether the message "
                        "arrived. Check with the recipient before sending it again."
                    ),
                )
                counts[Status.FAILED] += 1
    finally:
        run.close()
    return counts


def outbox_send_due(
    *,
    batch_size: int | None = None,
    budget_seconds: float | None = None,
    worker: str = "",
    max_batches: int | None = None,
) -> Counter:
    """The beat job: recover stuck rows, then claim and send due rows in batches until none
    is due or the time budget is spent. Safe to run in any number of processes at once."""
    batch_size = batch_size or conf.get("NOTIFICATIONS_BATCH_SIZE")
    budget = conf.get("NOTIFICATIONS_SEND_BUDGET_SECONDS") if budget_seconds is None else budget_seconds
    started = time.monotonic()
    counts: Counter = Counter()
    counts.update({f"recovered_{k}": v for k, v in outbox_recover_stuck().items()})
    run = _Run()
    batches = 0
    try:
        while time.monotonic() - started < budget and (max_batches is None or batches < max_batches):
            token = f"{worker or 'w'}-{uuid.uuid4().hex[:16]}"
            ids = outbox_claim(token=token, limit=batch_size)
            if not ids:
                break
            counts.update(outbox_send_claimed(ids=ids, token=token, run=run))
            batches += 1
    finally:
        run.close()
    return counts
