"""Checks for the PDFs (``clinic.pdf``): their text, and the same page rendered again in a child
process whose fontconfig lists no font directory at all, as on a machine without CJK fonts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = """
import json, sys, django
django.setup()
from clinic import pdf
job = json.load(sys.stdin)
sys.stdout.buffer.write(pdf.html_to_pdf(job["html"], job["stylesheet"]))
"""


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, by poppler's pdftotext (pypdf cannot read WeasyPrint's CID
    encoding CMaps); skips where poppler-utils is not installed."""
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext missing: apt-get install poppler-utils")
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return out.stdout.decode().split("\f")[:-1]


def pdf_text(data: bytes) -> str:
    return "\n".join(pdf_pages(data))


def render_without_system_fonts(tmp_path: Path, html: str, stylesheet: str) -> str:
    """The PDF's text, rendered where fontconfig sees no font (FONTCONFIG_FILE lists no <dir>)."""
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
        f"<fontconfig><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "FONTCONFIG_PATH": str(tmp_path)}
    env.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings.test")
    job = json.dumps({"html": html, "stylesheet": stylesheet})
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=job.encode(),
        capture_output=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
        check=True,
    )
    # (Pango without the shipped font and without any system font crashes outright, so the
    # child can only show that the shipped font is enough.)
    return pdf_text(done.stdout)
