"""E-mail through Django's own mail backend (``EMAIL_BACKEND``)."""

from __future__ import annotations

import contextlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from .. import conf
from ..errors import PermanentSendError, TransientSendError
from . import BaseBackend, Message


class EmailBackend(BaseBackend):
    name = "email"

    def __init__(self):
        self.connection = get_connection(fail_silently=False)

    def send(self, message: Message) -> str:
        domain = getattr(settings, "NOTIFICATIONS_EMAIL_DOMAIN", "clinic.local")
        message_id = f"<{message.reference}@{domain}>"
        headers = {"Message-ID": message_id}
        if message.extra.get("unsubscribe_url"):
            # RFC 2369 and RFC 8058: the mail client's own unsubscribe button, one click.
            headers["List-Unsubscribe"] = f"<{message.extra['unsubscribe_url']}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email = EmailMessage(
            subject=message.subject or message.body[:60],
            body=message.body,
            from_email=conf.get("NOTIFICATIONS_EMAIL_FROM") or settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
            headers=headers,
            connection=self.connection,
        )
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentSendError(str(exc), code="recipient_refused") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientSendError(str(exc), code=type(exc).__name__) from exc
        return message_id

    def close(self) -> None:
        # Closing must never fail a send run.
        with contextlib.suppress(Exception):
            self.connection.close()
