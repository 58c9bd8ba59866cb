"""Messages to members go through members' ``member_notify`` (active record, address,
consent, opt-out, language). A service message that cannot be sent (no phone, opted out,
record restricted) is logged and skipped: it must never undo the change it reports."""

from __future__ import annotations

import logging
from typing import Any

from clinic.notifications.errors import NotificationError
from clinic.notifications.models import Purpose
from members.notify import NotifyRefused, member_notify

log = logging.getLogger(__name__)


def notify_member(
    *, member, template_key: str, params: dict[str, Any], dedupe_key: str, branch=None, actor=None
):
    """Queue a service message in the caller's transaction; None when it is not sent."""
    try:
        return member_notify(
            member=member,
            template_key=template_key,
            params=params,
            purpose=Purpose.SERVICE,
            dedupe_key=dedupe_key,
            actor=actor,
        )
    except NotifyRefused as exc:
        log.info("loyalty message %s to member %s not sent: %s", template_key, member.pk, exc.code)
    except NotificationError as exc:
        log.error("loyalty message %s to member %s failed: %s", template_key, member.pk, exc.message)
    return None
