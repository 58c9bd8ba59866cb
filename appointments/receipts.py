"""The receipt as PDF through WeasyPrint with a CJK font (Noto Sans CJK / WenQuanYi): without
one, Chinese text silently disappears from the PDF. Returns None when WeasyPrint is missing,
and the view falls back to the printable HTML page."""

from __future__ import annotations

from django.template.loader import render_to_string


def render_pdf(request, context: dict) -> bytes | None:
    try:
        from weasyprint import HTML
    except (ImportError, OSError):
        return None
    html = render_to_string("appointments/receipt_pdf.html", context, request=request)
    return HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
