"""The domain error of the notifications app, and the two ways a send can fail."""

from __future__ import annotations

from clinic.errors import DomainError


class NotificationError(DomainError):
    """A notification rule was broken (no consent reference, unknown template, bad input)."""


class TemplateRenderError(NotificationError):
    """A template could not be rendered: a variable is missing, or no template matches."""


class SendError(Exception):
    """Raised by a backend. ``permanent`` failures (invalid number, user refused) are never
    retried; transient ones (timeouts, provider busy, flow control) are, with backoff."""

    permanent = False

    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class TransientSendError(SendError):
    permanent = False


class PermanentSendError(SendError):
    permanent = True
