from __future__ import annotations

from clinic.errors import DomainError


class PortalError(DomainError):
    """A rule of the member portal was broken (log-in limits, a wrong code…); the message is
    translated and shown to the member as is."""
