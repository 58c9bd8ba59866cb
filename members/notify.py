"""``member_notify``: the one way to message a person.

It checks, in this order: the record is active (not restricted, erased or merged); the person
has an address on the channel; for marketing, the person has not refused marketing and holds
a granted, unwithdrawn consent for that channel (its id travels as ``consent_ref``); the
recipient has not opted out in the notifications app; a marketing (or capped) message
fits the person's contact cap (``clinic.notifications.contact_cap``, refused with
``code="contact_cap"``). Then it queues the message through
``clinic.notifications.services.notification_enqueue`` in the caller's transaction, in the
person's language. The sender checks opt-outs again at send time, so a withdrawal made after
queueing still stops the message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from clinic.notifications.contact_cap import member_person_key
from clinic.notifications.errors import NotificationError
from clinic.notifications.models import Channel, OptOut, OptOutScope, Purpose
from clinic.notifications.services import normalize_recipient, notification_enqueue

from .errors import MemberError
from .models import Consent, ConsentKind, Member, MemberStatus

MARKETING_CONSENT = {
    Channel.SMS: ConsentKind.MARKETING_SMS,
    Channel.WECHAT: ConsentKind.MARKETING_WECHAT,
    Channel.EMAIL: ConsentKind.MARKETING_EMAIL,
}


class NotifyRefused(MemberError):
    """The message may not be sent to this person; ``code`` says why."""


def _recipient(member: Member, channel: str) -> str:
    if channel == Channel.SMS:
        return member.phone
    if channel == Channel.WECHAT:
        return member.wechat_id
    if channel == Channel.EMAIL:
        return member.email
    return ""


@transaction.atomic
def member_notify(
    *,
    member: Member,
    template_key: str,
    params: dict[str, Any],
    purpose: str,
    channel: str = Channel.SMS,
    actor=None,
    dedupe_key: str | None = None,
    not_before: dt.datetime | None = None,
):
    """Queue one message to ``member`` or raise ``NotifyRefused``. Returns the outbox row."""
    member = Member.objects.select_related("branch").get(pk=member.pk)
    if member.status != MemberStatus.ACTIVE:
        raise NotifyRefused(_("This record is restricted or closed: no messages."), code="inactive")
    recipient = _recipient(member, channel)
    if not recipient:
        raise NotifyRefused(_("This person has no address on this channel."), code="no_recipient")
    consent_ref = None
    if purpose == Purpose.MARKETING:
        if member.marketing_opt_out:
            raise NotifyRefused(_("This person refuses all marketing."), code="opted_out")
        kind = MARKETING_CONSENT.get(channel)
        consent = (
            Consent.objects.filter(member=member, kind=kind, withdrawn_at__isnull=True).first()
            if kind
            else None
        )
        if consent is None:
            raise NotifyRefused(_("No marketing consent for this channel."), code="no_consent")
        consent_ref = str(consent.pk)
    normal = normalize_recipient(channel, recipient)
    scopes = set(OptOut.objects.filter(channel=channel, recipient=normal).values_list("scope", flat=True))
    if OptOutScope.ALL in scopes or (purpose == Purpose.MARKETING and OptOutScope.MARKETING in scopes):
        raise NotifyRefused(_("This person opted out of these messages."), code="opted_out")
    if not dedupe_key:
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
        dedupe_key = f"members:{member.pk}:{channel}:{template_key}:{digest}"
    try:
        return _enqueue(
            member,
            channel,
            recipient,
            template_key,
            params,
            purpose,
            dedupe_key,
            not_before,
            consent_ref,
            actor,
        )
    except NotificationError as exc:
        if exc.code == "contact_cap":
            raise NotifyRefused(exc.message, code="contact_cap") from exc
        raise


def _enqueue(
    member, channel, recipient, template_key, params, purpose, dedupe_key, not_before, consent_ref, actor
):
    return notification_enqueue(
        channel=channel,
        recipient=recipient,
        template_key=template_key,
        params=params,
        purpose=purpose,
        dedupe_key=dedupe_key,
        not_before=not_before,
        consent_ref=consent_ref,
        language=member.language,
        actor=actor,
        branch=member.branch,
        person_key=member_person_key(member.pk),
    )
