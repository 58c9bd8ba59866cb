"""Messages of recall, care and surveys to a person: through members' ``member_notify``
(active record, address, opt-out, language) into the outbox, by the person's channel, never
inside the quiet hours.

- Channel: WeChat when the person has a WeChat id (the service account), else SMS; if the
  WeChat message cannot be queued (no template, opted out there), SMS.
- Quiet hours (``NOTIFICATIONS_QUIET_HOURS``, the clinic's zone): a message queued inside
  them waits (``not_before``) until they end. Reminders are service messages; greetings
  (birthday, holidays, anniversaries) are care messages sent as service messages (exempt
  from the marketing cap) but never to a person who refuses all marketing.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.utils import timezone

from clinic.notifications import conf
from clinic.notifications.errors import NotificationError
from clinic.notifications.models import Channel, Purpose
from members.notify import NotifyRefused, member_notify

log = logging.getLogger(__name__)


def preferred_channels(member) -> list[str]:
    """WeChat first when known, then SMS; the channel the person chose (the member portal's
    profile) goes first. Each is tried in turn until one may carry the message."""
    order = [Channel.WECHAT, Channel.SMS] if member.wechat_id else [Channel.SMS]
    chosen = getattr(member, "preferred_channel", "")
    if chosen and (chosen != Channel.EMAIL or member.email):
        order = [chosen, *[c for c in order if c != chosen]]
    return order


def after_quiet_hours(now: dt.datetime | None = None) -> dt.datetime | None:
    """When a message queued ``now`` may go: None if now is outside the quiet hours."""
    hours = conf.quiet_hours()
    if not hours:
        return None
    now = timezone.localtime(now or timezone.now())
    start, end = hours
    t = now.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = now.date() if t < end else now.date() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, end))


def care_notify(
    *, member, template_key: str, params: dict[str, Any], dedupe_key: str, greeting: bool = False, **_ignored
):
    """Queue one message in the caller's transaction; the outbox row, or None when it may
    not go (logged, never raised: a reminder that cannot be sent must not undo the job)."""
    if greeting and member.marketing_opt_out:
        return None
    not_before = after_quiet_hours()
    for channel in preferred_channels(member):
        try:
            return member_notify(
                member=member,
                template_key=template_key,
                params=params,
                purpose=Purpose.SERVICE,
                channel=channel,
                dedupe_key=dedupe_key,
                not_before=not_before,
            )
        except NotifyRefused as exc:
            log.info(
                "followups message %s to %s on %s refused: %s", template_key, member.pk, channel, exc.code
            )
        except NotificationError as exc:
            log.warning(
                "followups message %s to %s on %s failed: %s", template_key, member.pk, channel, exc.message
            )
    return None
