"""Every write of the notifications app.

``notification_enqueue`` is what the rest of the system calls; the sender (claim, send,
retry, recover) lives in ``clinic.notifications.sending`` and is re-exported here.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch
from clinic.phones import PhoneError, normalize_phone
from clinic.services import audit_record

from . import contact_cap
from .errors import NotificationError
from .models import Channel, MessageTemplate, OptOut, OptOutScope, Outbox, Purpose, Status

_LANGUAGES = {code for code, _name in settings.LANGUAGES}

# (template_key, channel) pairs known to exist, with the time they were checked: enqueue is
# on hot paths (reminder sweeps, broadcasts), and templates are rarely deleted.
_KNOWN_TEMPLATES: dict[tuple[str, str], float] = {}
_TEMPLATE_CACHE_SECONDS = 60.0


def normalize_recipient(channel: str, recipient: str) -> str:
    """The canonical form of a recipient: E.164 for SMS, lower-case address for e-mail,
    the openid as is for WeChat. Opt-outs and the outbox use the same form."""
    value = (recipient or "").strip()
    if not value:
        raise NotificationError(_("The message has no recipient."), field="recipient")
    if channel == Channel.SMS:
        try:
            return normalize_phone(value)
        except PhoneError as exc:
            raise NotificationError(
                _("%(recipient)s is not a valid phone number.") % {"recipient": value}, field="recipient"
            ) from exc
    if channel == Channel.EMAIL:
        try:
            validate_email(value)
        except ValidationError as exc:
            raise NotificationError(
                _("%(recipient)s is not a valid e-mail address.") % {"recipient": value}, field="recipient"
            ) from exc
        local, _at, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"
    return value


def _check_template_exists(template_key: str, channel: str) -> None:
    now = time.monotonic()
    checked = _KNOWN_TEMPLATES.get((template_key, channel))
    if checked is not None and now - checked < _TEMPLATE_CACHE_SECONDS:
        return
    if not MessageTemplate.objects.filter(key=template_key, channel=channel, is_active=True).exists():
        raise NotificationError(
            _("There is no active %(channel)s template with the key %(key)s.")
            % {"channel": Channel(channel).label, "key": template_key},
            field="template_key",
        )
    _KNOWN_TEMPLATES[(template_key, channel)] = now


_INSERT_COLUMNS = [
    "dedupe_key",
    "channel",
    "recipient",
    "template_key",
    "language",
    "params",
    "purpose",
    "consent_ref",
    "person_key",
    "branch_id",
    "status",
    "attempts",
    "not_before",
    "next_attempt_at",
    "claim_token",
    "last_error",
    "provider_message_id",
    "body",
    "created_by_id",
    "created_at",
]


def notification_enqueue(
    *,
    channel: str,
    recipient: str,
    template_key: str,
    params: dict[str, Any],
    purpose: str,
    dedupe_key: str,
    not_before: dt.datetime | None = None,
    consent_ref: str | None = None,
    language: str = "zh-hans",
    actor=None,
    branch: Branch | None = None,
    person_key: str = "",
) -> Outbox:
    """Queue one message, in the caller's transaction, and return its outbox row.

    Invariants: one row per ``dedupe_key`` (a database unique constraint; a second call with
    the same key is a no-op that returns the existing row, ``row.was_created`` False);
    a marketing message carries a ``consent_ref`` (checking the consent itself is the
    caller's job). The row is sent by the beat sender no earlier than ``not_before``, so if
    the caller's transaction rolls back, nothing is ever sent.

    The contact cap (``contact_cap``): a marketing (or capped) message for ``person_key``
    over the person's cap raises ``NotificationError`` with ``code="contact_cap"``; the check
    holds an advisory lock on the person until the caller's transaction ends.
    """
    if channel not in Channel.values:
        raise NotificationError(_("Unknown channel: %(channel)s") % {"channel": channel}, field="channel")
    if purpose not in Purpose.values:
        raise NotificationError(_("Unknown purpose: %(purpose)s") % {"purpose": purpose}, field="purpose")
    consent_ref = (consent_ref or "").strip()
    if purpose == Purpose.MARKETING and not consent_ref:
        raise NotificationError(
            _("A marketing message needs the reference of the recipient's consent."), field="consent_ref"
        )
    if language not in _LANGUAGES:
        raise NotificationError(
            _("Unknown language: %(language)s") % {"language": language}, field="language"
        )
    dedupe_key = (dedupe_key or "").strip()
    if not dedupe_key or len(dedupe_key) > 200:
        raise NotificationError(_("A message needs a dedupe key of 1–200 characters."), field="dedupe_key")
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise NotificationError(_("Message parameters must map names to values."), field="params")
    try:
        params_json = json.dumps(params, ensure_ascii=False, default=str)
    except (TypeError, ValueError) as exc:
        raise NotificationError(_("Message parameters must map names to values."), field="params") from exc
    recipient = normalize_recipient(channel, recipient)
    _check_template_exists(template_key, channel)
    person_key = (person_key or "").strip()[:64]
    if person_key and contact_cap.is_capped(purpose=purpose, template_key=template_key):
        contact_cap.lock_person(person_key)
        if not Outbox.objects.filter(dedupe_key=dedupe_key).exists() and contact_cap.over_cap(person_key):
            raise NotificationError(
                _("This person has had as many marketing messages as the contact cap allows."),
                code="contact_cap",
            )

    now = timezone.now()
    due = max(now, not_before) if not_before else now
    values = [
        dedupe_key,
        channel,
        recipient,
        template_key,
        language,
        params_json,
        purpose,
        consent_ref,
        person_key,
        branch.pk if branch is not None else None,
        Status.PENDING.value,
        0,
        not_before,
        due,
        "",
        "",
        "",
        "",
        actor.pk if getattr(actor, "pk", None) else None,
        now,
    ]
    placeholders = ", ".join("%s::jsonb" if c == "params" else "%s" for c in _INSERT_COLUMNS)
    # ON CONFLICT DO NOTHING: a concurrent enqueue of the same key waits for the other
    # transaction and then does nothing, instead of failing the caller's transaction.
    sql = (
        f"INSERT INTO {Outbox._meta.db_table} ({', '.join(_INSERT_COLUMNS)}) VALUES ({placeholders}) "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
    )
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.fetchone()
    if inserted is None:
        row = Outbox.objects.get(dedupe_key=dedupe_key)
        row.was_created = False
        return row
    row = Outbox(id=inserted[0], **dict(zip(_INSERT_COLUMNS, values, strict=True)))
    row.params = params
    row._state.adding = False
    row.was_created = True
    return row


# The columns a set-based enqueue's SELECT must produce, in this order.
SELECT_COLUMNS = (
    "dedupe_key",
    "channel",
    "recipient",
    "template_key",
    "language",
    "params",
    "purpose",
    "consent_ref",
    "person_key",
    "branch_id",
    "not_before",
)


def enqueue_select(*, select_sql: str, params: list, actor=None, capped: bool = True) -> int:
    """Queue many messages in one statement: ``INSERT … SELECT … ON CONFLICT (dedupe_key) DO
    NOTHING``. ``select_sql`` yields ``SELECT_COLUMNS`` (recipients already normalised,
    ``params`` as jsonb, marketing rows with a consent reference). Returns how many rows were
    inserted now; rows whose key exists are left alone, so running it twice, even at the same
    time, queues each message once.

    With ``capped`` the contact cap applies as in ``notification_enqueue``: a person already
    at the cap in the window gets nothing. (Two different broadcasts started at the same
    instant could each see the same headroom; the per-person advisory lock is for the
    one-at-a-time path.)
    """
    cap = contact_cap.policy()
    cols = ", ".join(SELECT_COLUMNS)
    where = ""
    extra: list = []
    if capped and cap.is_active:
        where = (
            f"WHERE q.person_key = '' OR (SELECT count(*) FROM {Outbox._meta.db_table} o"
            f" WHERE o.person_key = q.person_key AND {contact_cap.COUNTED_SQL}) < %s"
        )
        extra = [contact_cap.window_start(cap), sorted(contact_cap.capped_templates()), cap.limit]
    sql = (
        f"INSERT INTO {Outbox._meta.db_table} ({cols}, status, attempts, next_attempt_at, claim_token,"
        " last_error, provider_message_id, body, created_by_id, created_at)"
        f" SELECT {', '.join('q.' + c for c in SELECT_COLUMNS)}, 'pending', 0,"
        " GREATEST(now(), COALESCE(q.not_before, now())), '', '', '', '', %s, now()"
        f" FROM ({select_sql}) q {where}"
        " ON CONFLICT (dedupe_key) DO NOTHING"
    )
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(sql, [actor.pk if getattr(actor, "pk", None) else None, *params, *extra])
        return cursor.rowcount


@transaction.atomic
def outbox_resend(*, actor, message: Outbox) -> Outbox:
    """Put a failed (or skipped) message back in the queue for one more round of attempts.

    Audited: staff choose to contact a person again. The row keeps its dedupe key, so the
    message is still sent at most once per resend.
    """
    row = Outbox.objects.select_for_update().get(pk=message.pk)
    if row.status not in (Status.FAILED, Status.SKIPPED):
        raise NotificationError(_("Only a failed or skipped message can be sent again."))
    old_status = row.status
    now = timezone.now()
    Outbox.objects.filter(pk=row.pk).update(
        status=Status.PENDING,
        attempts=0,
        next_attempt_at=now,
        claim_token="",
        claimed_at=None,
    )
    row.refresh_from_db()
    audit_record(
        actor=actor,
        action="notifications.outbox.resent",
        target=row,
        changes={"status": [old_status, Status.PENDING], "last_error": row.last_error},
    )
    return row


@transaction.atomic
def optout_set(
    *, actor, channel: str, recipient: str, scope: str = OptOutScope.MARKETING, reason: str = ""
) -> OptOut:
    """Record that a recipient does not want (marketing) messages on a channel. Works at
    once: queued messages are checked again when they are sent."""
    if scope not in OptOutScope.values:
        raise NotificationError(_("Unknown opt-out scope: %(scope)s") % {"scope": scope}, field="scope")
    recipient = normalize_recipient(channel, recipient)
    row, created = OptOut.objects.select_for_update().get_or_create(
        channel=channel, recipient=recipient, defaults={"scope": scope, "reason": reason}
    )
    old = None if created else row.scope
    if not created and (row.scope != scope or row.reason != reason):
        row.scope, row.reason = scope, reason
        row.save(update_fields=["scope", "reason"])
    audit_record(
        actor=actor,
        action="notifications.optout.set",
        target=row,
        changes={"scope": [old, scope], "reason": reason},
    )
    return row


@transaction.atomic
def optout_remove(*, actor, channel: str, recipient: str) -> bool:
    """Withdraw an opt-out. Returns whether there was one."""
    recipient = normalize_recipient(channel, recipient)
    row = OptOut.objects.select_for_update().filter(channel=channel, recipient=recipient).first()
    if row is None:
        return False
    audit_record(
        actor=actor,
        action="notifications.optout.removed",
        target=row,
        changes={"scope": [row.scope, None]},
    )
    row.delete()
    return True


# The sender's services live in their own module; re-exported so callers have one place.
from .sending import (  # noqa: E402
    outbox_claim,
    outbox_recover_stuck,
    outbox_send_claimed,
    outbox_send_due,
)

__all__ = [
    "enqueue_select",
    "notification_enqueue",
    "optout_remove",
    "optout_set",
    "outbox_claim",
    "outbox_recover_stuck",
    "outbox_resend",
    "outbox_send_claimed",
    "outbox_send_due",
]
