"""PDFs through WeasyPrint with the project's own CJK font.

Every PDF (receipts, coupon code sheets) is rendered here so that none depends on the fonts
of the operating system: ``font_face_css`` declares "Noto Sans SC" (OFL 1.1, npm package
``@fontsource/noto-sans-sc``, its simplified-Chinese subset: GB2312's common hanzi, ASCII and
CJK punctuation, served as ``vendor/noto-sans-sc``) with ``@font-face``, and the page
stylesheets name that family first. Stylesheets and fonts are
read from the static files on disk; any other URL (http, data from elsewhere) is refused.
``render`` returns None when WeasyPrint (or its pango) is missing, and the caller falls back
to the printable HTML page.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

FONT_FAMILY = "Noto Sans SC"
FONT_FILES = {
    400: "vendor/noto-sans-sc/noto-sans-sc-chinese-simplified-400-normal.woff",
    700: "vendor/noto-sans-sc/noto-sans-sc-chinese-simplified-700-normal.woff",
}


def font_face_css() -> str:
    """``@font-face`` rules for the shipped font, by absolute file URL (it lives in node_modules,
    so a relative URL from a stylesheet elsewhere would not reach it)."""
    rules = []
    for weight, name in FONT_FILES.items():
        path = finders.find(name)
        if path is None:
            raise FileNotFoundError(f"{name}: run `make setup` (npm install) to get the PDF font")
        rules.append(
            f'@font-face {{ font-family: "{FONT_FAMILY}"; font-weight: {weight}; '
            f'font-style: normal; src: url("file://{Path(path).resolve()}") format("woff"); }}'
        )
    return "\n".join(rules)


def _static_roots() -> list[Path]:
    roots = []
    for finder in finders.get_finders():
        locations = getattr(finder, "locations", None)
        if locations:
            roots.extend(Path(root).resolve() for _prefix, root in locations)
        for storage in getattr(finder, "storages", {}).values():
            location = getattr(storage, "location", None)
            if location:
                roots.append(Path(location).resolve())
    return roots


def _local_fetcher():
    """WeasyPrint's URL fetcher restricted to files under the static directories: PDFs never
    fetch anything over the network."""
    from weasyprint.urls import URLFetcher

    class LocalFiles(URLFetcher):
        def fetch(self, url, headers=None):
            parsed = urlparse(url)
            if parsed.scheme == "file":
                path = Path(unquote(parsed.path)).resolve()
                if any(path.is_relative_to(root) for root in _static_roots()):
                    return super().fetch(url, headers)
            raise ValueError(f"PDFs do not fetch {url}")

    return LocalFiles(allowed_protocols={"file"}, fail_on_errors=False)


def html_to_pdf(html: str, stylesheet: str) -> bytes:
    """The PDF of ``html`` styled by the font rules and the static ``stylesheet``."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    # @font-face rules only load into a FontConfiguration handed to both CSS and write_pdf.
    fonts, fetcher = FontConfiguration(), _local_fetcher()
    sheets = [
        CSS(string=font_face_css(), url_fetcher=fetcher, font_config=fonts),
        CSS(filename=finders.find(stylesheet), url_fetcher=fetcher, font_config=fonts),
    ]
    return HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=sheets, font_config=fonts)


def render(template: str, stylesheet: str, context: dict, request=None) -> bytes | None:
    """The PDF of ``template``, or None when WeasyPrint (or its pango) is missing."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return None
    return html_to_pdf(render_to_string(template, context, request=request), stylesheet)
