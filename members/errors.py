from __future__ import annotations

from clinic.errors import DomainError


class MemberError(DomainError):
    """A rule of the person record was broken; the message is translated and shown as is."""


class ImportFileError(MemberError):
    """An uploaded file cannot be read as a spreadsheet (not .xlsx/.xls, or a CSV with NUL
    bytes or an unknown encoding): the job ends as failed with this message."""
