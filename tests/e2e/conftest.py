"""Browser tests: Playwright drives Debian's Chromium (no browser download), headless."""

from __future__ import annotations

import importlib
import os
import shutil

import pytest
from django.apps import apps

from tests.browser_skips import REASON
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory

# Playwright's sync API runs an event loop in this thread; the Django test database calls
# made from the same thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR", "var/screenshots")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        # Counted at the end of the run (tests/browser_skips.py); a failure when CI=true.
        pytest.skip(REASON)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "en-US", "viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def screenshot(page):
    def take(name: str) -> str:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        path = os.path.join(SCREENSHOTS, f"{name}.png")
        # caret="hide" (the default) leaves style="" on every input, which htmx later copies
        # onto swapped-in elements of the same id: a CSP violation no real user would cause.
        page.screenshot(path=path, full_page=True, caret="initial")
        return path

    return take


@pytest.fixture
def cleaning(db):
    """The programme a clinic starts with (message templates, channels, tiers — a
    transactional test's flush removed what the migrations seeded) and one cleaning item."""
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    return ServiceItemFactory(
        code="PV01", name="超声洁牙", category=basic, price="280.00", duration_minutes=30
    )


def nav_click(page, name: str) -> None:
    """Follow a navbar entry as a person would: open its group's dropdown first when the
    link sits in one (a user who sees two or more items of a group gets a dropdown)."""
    nav = page.locator("#main-nav")
    nav.wait_for()  # the page with the menu is there (a login may still be navigating)
    page.wait_for_load_state()  # and its deferred scripts ran: Bootstrap opens dropdowns
    link = nav.get_by_role("link", name=name, exact=True).first
    if not link.is_visible():
        menu = nav.locator("li.dropdown").filter(has=page.locator("a.dropdown-item", has_text=name))
        menu.locator(".dropdown-toggle").click()
    link.click()


@pytest.fixture(autouse=True)
def _two_factor_off_unless_marked(request, settings):
    """Browser tests of other pages log in with a password only: two-step verification is
    not required there (an enrolled user is still asked for a code). The log-in and
    enrolment tests (``@pytest.mark.two_factor``) run with it required, as in production."""
    if request.node.get_closest_marker("two_factor") is None:
        settings.CLINIC_TWO_FACTOR_REQUIRED = False
