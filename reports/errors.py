"""The domain error of the reports app (clinic.errors): views turn it into a message."""

from __future__ import annotations

from clinic.errors import DomainError


class ReportsError(DomainError):
    pass
