"""Persona fixtures shared by every app's tests: a person per role at the 静安 branch, a
front desk at the 浦东 branch (the outsider for branch scoping), and an HQ admin."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.test import Client

from clinic import services
from clinic.models import Role
from tests.clinic.factories import BranchFactory


@pytest.fixture(autouse=True)
def _run_as_if_it_were():
    """``CLINIC_TEST_NOW=2026-12-10T15:00+08:00`` runs the tests as if the clock said so
    (ticking): a check that no test depends on the day or hour it runs. The tests' own
    ``clock`` fixtures travel inside it. Unset (CI), it does nothing."""
    value = os.environ.get("CLINIC_TEST_NOW")
    if not value:
        yield
        return
    import time_machine

    with time_machine.travel(dt.datetime.fromisoformat(value), tick=True):
        yield


PASSWORD = "Test@pass-2026"


@pytest.fixture
def branch(db):
    return BranchFactory(code="JA", name="静安店", name_en="Jing'an")


@pytest.fixture
def other_branch(db):
    return BranchFactory(code="PD", name="浦东店", name_en="Pudong")


def make_staff(role: str, branches, username: str | None = None):
    profile = services.staff_create(
        actor=None,
        username=username or role,
        password=PASSWORD,
        full_name=f"测试{Role(role).label}",
        role=role,
        branches=branches,
    )
    return profile.user


@pytest.fixture
def staff_factory(branch):
    def factory(role: str, branches=None, username: str | None = None):
        return make_staff(role, branches or [branch], username)

    return factory


@pytest.fixture
def front_desk(staff_factory):
    return staff_factory(Role.FRONT_DESK)


@pytest.fixture
def consultant(staff_factory):
    return staff_factory(Role.CONSULTANT)


@pytest.fixture
def doctor(staff_factory):
    return staff_factory(Role.DOCTOR)


@pytest.fixture
def nurse(staff_factory):
    return staff_factory(Role.NURSE)


@pytest.fixture
def customer_service(staff_factory):
    return staff_factory(Role.CUSTOMER_SERVICE)


@pytest.fixture
def marketer(staff_factory):
    return staff_factory(Role.MARKETING)


@pytest.fixture
def manager(staff_factory):
    return staff_factory(Role.BRANCH_MANAGER)


@pytest.fixture
def hq_admin(staff_factory, branch, other_branch):
    return staff_factory(Role.HQ_ADMIN, [branch, other_branch])


@pytest.fixture
def outsider(other_branch):
    """Front desk of the other branch: must not see this branch's data."""
    return make_staff(Role.FRONT_DESK, [other_branch], username="outsider")


def login(user) -> Client:
    """A client signed in as ``user``; for a user who must use two-step verification
    (店长, 总部, admin users: clinic.two_factor.is_required) the session is also marked
    verified with a TOTP device, as after entering a code at log-in."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    verify_two_factor(client, user)
    return client


def verify_two_factor(client: Client, user, *, force: bool = False):
    """Mark the client's session as having passed two-step verification (the test
    counterpart of entering a code): a confirmed TOTP device for the user, its id in the
    session. Only for users who need it, unless ``force``. Returns the device or None."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from clinic.two_factor import TOTP_NAME, is_required

    if not (force or is_required(user)):
        return None
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


@pytest.fixture
def client_for():
    return login


@pytest.fixture
def captured_html(monkeypatch):
    """The HTML and stylesheet of the next PDF rendered (``tests.pdf_checks`` renders them again
    without system fonts)."""
    from clinic import pdf

    seen = {}
    real = pdf.html_to_pdf

    def capture(html, stylesheet):
        seen["html"], seen["stylesheet"] = html, stylesheet
        return real(html, stylesheet)

    monkeypatch.setattr(pdf, "html_to_pdf", capture)
    return seen


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Browser tests skipped for want of Chromium: one line saying how many and how to enable
    them; with CI=true the run fails instead (a skipped browser suite is not a green build)."""
    import os

    from tests.browser_skips import browser_skips, in_ci, summary_line

    count = browser_skips(terminalreporter.stats.get("skipped", []))
    if not count:
        return
    terminalreporter.write_line(summary_line(count), red=in_ci(os.environ), yellow=not in_ci(os.environ))
    if in_ci(os.environ):
        terminalreporter.write_line("CI=true: browser tests must run here, so this run fails.", red=True)


def pytest_sessionfinish(session, exitstatus):
    import os

    from tests.browser_skips import browser_skips, in_ci

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter and in_ci(os.environ) and browser_skips(reporter.stats.get("skipped", [])):
        session.exitstatus = 1
