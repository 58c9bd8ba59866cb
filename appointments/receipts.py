"""The receipt as PDF, through ``clinic.pdf`` (the project's own CJK font, local files only).
Returns None when WeasyPrint (or its pango) is missing, and the view falls back to the
printable HTML page."""

from __future__ import annotations

from clinic import pdf


def render_pdf(request, context: dict) -> bytes | None:
    return pdf.render("appointments/receipt_pdf.html", "appointments/receipt_pdf.css", context, request)
