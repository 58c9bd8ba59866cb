"""The domain error of the clinic layer. Each app has one such class; views turn it into a
form error or a message, never a 500."""

from __future__ import annotations


class DomainError(Exception):
    """A rule was broken. ``message`` is translatable and shown to the user as is."""

    def __init__(self, message, *, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class ClinicError(DomainError):
    pass
