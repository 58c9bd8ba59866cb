from __future__ import annotations

from clinic.errors import DomainError


class MarketingError(DomainError):
    """A rule of consultations, attribution, partners or rebates was broken; the message is
    translated and shown to the user as is."""
