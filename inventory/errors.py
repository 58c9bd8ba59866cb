from __future__ import annotations

from clinic.errors import DomainError


class InventoryError(DomainError):
    """A rule of the stock ledger was broken; the message is translated and shown as is."""
