from __future__ import annotations

from clinic.errors import DomainError


class FollowupError(DomainError):
    """A rule of follow-ups, recall, care or surveys was broken; the message is translated
    and shown to the user as is."""
