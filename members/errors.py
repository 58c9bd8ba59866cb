from __future__ import annotations

from clinic.errors import DomainError


class MemberError(DomainError):
    """A rule of the person record was broken; the message is translated and shown as is."""
