"""The session engine (``SESSION_ENGINE = "clinic.sessions"``): Django's database sessions,
except that a database outage while the session is saved is reported as the outage.

Django's database store turns *any* database error during an update into ``UpdateError``,
which its middleware answers with a 400 "the session was deleted before the request
completed". When PostgreSQL restarts between the view and the session save, that 400 (our
page about an invalid request) is wrong, and the view's work may well have committed. Here
a transient error (``clinic.jobs.TRANSIENT_ERRORS``) is raised as itself, so the request ends
in the 503 page (clinic.views.server_error) that says to check and try again; a session row
that really vanished (a log-out in another tab) is still ``UpdateError``.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def save(self, must_create: bool = False) -> None:
        from .jobs import TRANSIENT_ERRORS

        try:
            super().save(must_create=must_create)
        except UpdateError as exc:
            cause = exc.__context__
            if isinstance(cause, TRANSIENT_ERRORS):
                raise cause from None
            raise
