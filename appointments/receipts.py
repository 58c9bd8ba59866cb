"""The receipt as PDF through WeasyPrint with a CJK font (Noto Sans CJK / WenQuanYi): without
one, Chinese text silently disappears from the PDF. Stylesheets are read from the static
files on disk, never fetched over the network. Returns None when WeasyPrint (or its pango)
is missing, and the view falls back to the printable HTML page."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string


def _no_network(url: str, *args, **kwargs):
    raise ValueError(f"receipts do not fetch {url}")


def render_pdf(request, context: dict) -> bytes | None:
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError):
        return None
    html = render_to_string("appointments/receipt_pdf.html", context, request=request)
    css = CSS(filename=finders.find("appointments/receipt_pdf.css"), url_fetcher=_no_network)
    return HTML(string=html, url_fetcher=_no_network).write_pdf(stylesheets=[css])
