from __future__ import annotations

from clinic.errors import DomainError


class AppointmentError(DomainError):
    """A booking or visit rule was broken; the message is translated and shown as is.

    ``slots`` carries free alternatives when the error is a clash.
    """

    def __init__(self, message, *, code: str = "invalid", field: str | None = None, slots=None):
        super().__init__(message, code=code, field=field)
        self.slots = list(slots or [])
