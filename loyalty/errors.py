from __future__ import annotations

from clinic.errors import DomainError


class LoyaltyError(DomainError):
    """A rule of enrolment, tiers, allowances or points was broken; the message is translated
    and shown to the user as is."""
