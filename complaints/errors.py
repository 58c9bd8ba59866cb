from __future__ import annotations

from clinic.errors import DomainError


class ComplaintError(DomainError):
    """A rule of complaint handling was broken; the message is translated and shown as is."""
