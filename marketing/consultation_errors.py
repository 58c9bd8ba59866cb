"""The domain error of marketing's consultations and attribution."""

from __future__ import annotations

from clinic.errors import DomainError


class MarketingError(DomainError):
    pass
