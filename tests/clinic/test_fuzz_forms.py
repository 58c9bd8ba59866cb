"""Property-based fuzzing of every staff form (hypothesis): generated input — empty, huge, NUL,
RTL overrides, emoji, far-off dates, negative and huge numbers — posted to every form of every
app by a role allowed to post it. Never a 500; a POST that is refused (no redirect) saves
nothing; and a refused form says what is wrong.

The world and the form discovery are test_bad_input's (the demo data, its URL builder and
HTML form parser); the role per URL comes from docs/url_access.toml (the first role allowed to
POST it), each role logged in as its seed_demo user. Each request runs in a savepoint that is
rolled back. ``max_examples`` is small so the test stays under about two minutes; raise
``FUZZ_EXAMPLES`` for a longer hunt.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from clinic.roles import ROLE_PERMISSIONS
from tests.clinic.test_bad_input import (
    EMPTY,
    KEEP_FIELDS,
    SKIP_NAMES,
    SKIP_PREFIXES,
    SUCCESS_IS_200,
    FormParser,
    Probe,
    World,
    walk,
)
from tests.conftest import verify_two_factor

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
DEMO_USERS = {
    "front_desk": "frontdesk",
    "consultant": "consultant",
    "doctor": "doctor",
    "nurse": "nurse",
    "customer_service": "service",
    "marketing": "marketing",
    "branch_manager": "manager",
    "hq_admin": "hqadmin",
}
ROLE_ORDER = list(DEMO_USERS)
# Pages whose forms end the session or change who is logged in.
SKIP_FUZZ = SKIP_NAMES | {"two_factor_setup", "two_factor_verify", "two_factor_disable", "branch_switch"}
# What a page shows when it refuses input: a field error, an alert, a form-wide error.
ERROR_MARKERS = (
    "invalid-feedback",
    "is-invalid",
    "alert-danger",
    "alert-warning",
    "errorlist",
    'role="alert"',
)

hostile_text = st.one_of(
    st.just(""),
    st.just(" "),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=400),
    st.just("x" * 5000),
    st.just("\x00"),
    st.just("\u202egnp.exe"),  # RTL override
    st.just("😀🦷" * 20),
    st.just("<script>alert(1)</script>"),
    st.just('=HYPERLINK("http://x")'),
)
hostile_number = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.just("-1"),
    st.just("1e308"),
    st.just("NaN"),
    st.just("0.001"),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
)
hostile_date = st.one_of(
    st.just("9999-12-31"),
    st.just("0001-01-01"),
    st.just("2026-02-30"),
    st.dates().map(lambda d: d.isoformat()),
    st.just("2026-12-07T25:61"),
)
hostile = st.one_of(hostile_text, hostile_number, hostile_date)


def _role_for(decl: dict | None) -> str | None:
    """The first role (front desk first) allowed to POST, per docs/url_access.toml."""
    post = (decl or {}).get("post", "none")
    if post == "none":
        return None
    if post in ("staff", "public"):
        return "front_desk"
    if isinstance(post, list):
        return next((r for r in ROLE_ORDER if r in post), None)
    return next((r for r in ROLE_ORDER if post in ROLE_PERMISSIONS[r]), None)


def _declarations() -> dict:
    with open(Path(settings.BASE_DIR) / "docs" / "url_access.toml", "rb") as f:
        return tomllib.load(f)["urls"]


@pytest.fixture
def quiet_logs():
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture
def forms_world(quiet_logs, db):
    """(probe per role, [(url, name, role, form fields with the page's values)])."""
    from django.contrib.auth import get_user_model

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    world = World()
    declared = _declarations()
    probes: dict[str, Probe] = {}
    forms: list[tuple[str, str, str, dict]] = []
    for route, name, _p in walk():
        short = name.split(":")[-1]
        if short in SKIP_FUZZ or route.startswith(SKIP_PREFIXES) or name.startswith("admin:"):
            continue
        role = _role_for(declared.get(name))
        if role is None:
            continue
        kwargs = world.kwargs(name, route)
        if kwargs is None or EMPTY in kwargs.values():
            continue
        if role not in probes:
            user = get_user_model().objects.get(username=DEMO_USERS[role])
            client = Client(raise_request_exception=False)
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
            verify_two_factor(client, user)
            probes[role] = Probe(client)
        probe = probes[role]
        url = reverse(name, kwargs=kwargs)
        probe.names[url] = name
        response = probe.send("get", url)
        found = False
        if (
            response is not None
            and response.status_code == 200
            and "html" in response.get("Content-Type", "")
        ):
            parser = FormParser()
            parser.feed(response.content.decode("utf-8", "replace"))
            for form in parser.forms:
                target = urlsplit(form["action"]).path or url
                if form["method"] == "post" and target == url:
                    fields = {k: v for k, v in form["fields"].items() if k not in KEEP_FIELDS}
                    if fields:
                        forms.append((url, name, role, fields))
                        found = True
        if not found:
            forms.append((url, name, role, {}))  # a POST-only action: fuzz its source fields
    assert len(forms) > 50, len(forms)
    return probes, forms


@pytest.mark.django_db
def test_generated_input_to_every_form_never_gives_a_500_or_a_half_saved_row(forms_world):
    probes, forms = forms_world
    silent: list[str] = []

    @hsettings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.data())
    def fuzz(data):
        url, name, role, fields = data.draw(st.sampled_from(forms), label="form")
        names = sorted(fields) or ["name", "note", "amount", "date", "q"]
        body = {}
        for field in names:
            keep_page_value = fields.get(field) and data.draw(st.booleans(), label=f"keep {field}")
            body[field] = fields[field] if keep_page_value else data.draw(hostile, label=field)
        probe = probes[role]
        response = probe.send("post", url, body, check_rows=True)
        if response is None or response.status_code >= 500:
            return  # recorded in probe.failures
        if (
            response.status_code == 200
            and fields
            and name not in SUCCESS_IS_200
            and "html" in response.get("Content-Type", "")
            and not any(m in response.content.decode("utf-8", "replace") for m in ERROR_MARKERS)
        ):
            silent.append(f"{role} POST {url} ({name}) refused without saying why: {list(body)}")

    fuzz()
    failures = [f for p in probes.values() for f in p.failures]
    assert not failures, f"{len(failures)} failures:\n" + "\n\n".join(failures[:20])
    assert not silent, "\n".join(sorted(set(silent))[:20])
