from __future__ import annotations

from clinic.errors import DomainError


class ClinicalError(DomainError):
    """A clinical rule was broken; the message is translated and shown as is."""
