"""One clear line at the end of a run when browser tests were skipped for want of Chromium,
and a failure instead of a skip when ``CI=true`` (see tests/conftest.py's hooks)."""

from __future__ import annotations

ENABLE = "sudo apt-get install -y chromium  (then `make test` again)"
REASON = "Debian's chromium package is not installed"


def browser_skips(reports) -> int:
    """How many e2e tests were skipped because Chromium is missing."""
    return sum(1 for r in reports if r.skipped and "tests/e2e/" in r.nodeid and REASON in str(r.longrepr))


def summary_line(count: int) -> str:
    return f"{count} browser tests skipped: Chromium is not installed. Enable them with: {ENABLE}"


def in_ci(environ) -> bool:
    return environ.get("CI", "").lower() in ("1", "true", "yes")
