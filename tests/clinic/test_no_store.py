"""Shared front-desk PCs: nothing a signed-in person sees is kept in the browser's cache."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse

from tests.members.factories import make_member


@pytest.fixture
def member(branch, front_desk):
    return make_member(branch, name="李四", phone="13900001111", actor=front_desk)


def _no_store(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return "no-store" in directives and not any(d.startswith("max-age") for d in directives)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("members:detail", {}),
        ("members:data_export", {"fmt": "json"}),
        ("members:data_export", {"fmt": "xlsx"}),
        ("members:list", None),
        ("members:export", None),
    ],
)
def test_personal_data_pages_and_files_are_not_stored(client_for, manager, member, name, kwargs):
    args = None if kwargs is None else [member.pk, *kwargs.values()]
    response = client_for(manager).get(reverse(name, args=args))
    assert response.status_code == 200
    assert _no_store(response), response.get("Cache-Control")
    assert "private" in response["Cache-Control"]


def test_a_views_own_max_age_is_replaced():
    from django.http import HttpResponse

    from clinic.middleware import add_no_store

    response = HttpResponse("x")
    response["Cache-Control"] = "public, max-age=300"
    add_no_store(response)
    assert _no_store(response) and "public" not in response["Cache-Control"]


def test_anonymous_pages_are_untouched(db):
    response = Client().get(reverse("healthz"))
    assert "no-store" not in response.get("Cache-Control", "")


@override_settings(DEMO_DATA_ALLOWED=False)
def test_seed_demo_refuses_under_production_settings(db):
    from django.contrib.auth import get_user_model

    with pytest.raises(CommandError, match="DEMO_DATA_ALLOWED"):
        call_command("seed_demo", "--quiet")
    assert not get_user_model().objects.filter(username="frontdesk").exists()


def test_production_settings_switch_demo_data_off():
    from tests.clinic.test_settings import run_python

    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='clinic.settings.production';"
        "from django.conf import settings; print(settings.DEMO_DATA_ALLOWED)"
    )
    env = {"SECRET_KEY": "k" * 60, "DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://h/0"}
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    "name, args",
    [
        ("reports:audit_log", None),
        ("reports:audit_log_export", ["xlsx"]),
        ("reports:audit_log_export", ["csv"]),
        ("reports:staff_export", ["csv"]),
        ("clinic:two_factor", None),
        ("clinic:two_factor_setup", None),
    ],
)
def test_audit_log_exports_and_two_factor_pages_are_not_stored(client_for, manager, member, name, args):
    response = client_for(manager).get(reverse(name, args=args))
    assert response.status_code == 200, response.status_code
    assert _no_store(response), response.get("Cache-Control")


def test_the_two_factor_gate_and_backup_codes_are_not_stored(manager):
    from django.test import Client

    from tests.conftest import PASSWORD

    client = Client()
    client.post(reverse("login"), {"username": manager.username, "password": PASSWORD})
    gate = client.get(reverse("members:list"))
    assert gate.status_code == 302 and _no_store(gate)
    codes = client_for_enrolled(manager).post(reverse("clinic:two_factor_backup_codes"), {"confirm": "renew"})
    assert codes.status_code == 200 and _no_store(codes)


def client_for_enrolled(user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.conftest import login

    client = login(user)
    TOTPDevice.objects.filter(user=user).update(confirmed=True)
    return client


@pytest.mark.django_db
def test_the_public_survey_page_is_not_stored(client):
    """The one page with personal data an anonymous visitor sees (a survey link by SMS)."""
    response = client.get(reverse("followups:survey", args=["abc:def"]))
    assert response.status_code in (200, 400, 404)
    assert "no-store" in response.get("Cache-Control", "")
