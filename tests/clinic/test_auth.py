"""Login, logout, lockout by username + IP, inactivity timeout, login required everywhere."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def post_login(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_login_lands_on_the_chinese_home_page(front_desk):
    client = Client()
    response = post_login(client, "front_desk", PASSWORD)
    # The front desk's start page (reports:frontdesk); the home page stays reachable.
    assert response.status_code == 302 and response["Location"] == reverse("reports:frontdesk")
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert "你好" in home.content.decode()


def test_wrong_password_shows_a_chinese_error(front_desk):
    response = post_login(Client(), "front_desk", "wrong")
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()


def test_logout_ends_the_session(front_desk, client_for):
    client = client_for(front_desk)
    assert client.get(reverse("home")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize("url", ["/", "/clinic/catalog/", "/admin/"])
def test_every_page_requires_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert reverse("login") in response["Location"] or "/admin/login/" in response["Location"]


def test_healthz_and_login_page_are_public():
    assert Client().get("/healthz").json() == {"status": "ok"}
    assert Client().get(reverse("login")).status_code == 200


def test_favicon_is_public_and_points_at_the_static_icon():
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("img/favicon.svg")


def test_lockout_after_repeated_failures_is_per_username_and_ip(front_desk, consultant):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "front_desk", "wrong", ip="10.0.0.1")
    locked = post_login(client, "front_desk", PASSWORD, ip="10.0.0.1")
    assert locked.status_code == 429
    assert "登录失败次数过多" in locked.content.decode()
    # A colleague on the same front-desk PC (same IP) still logs in.
    assert post_login(Client(), "consultant", PASSWORD, ip="10.0.0.1").status_code == 302
    # The same username from another computer is not locked either.
    assert post_login(Client(), "front_desk", PASSWORD, ip="10.0.0.2").status_code == 302


def test_lockout_expires_after_the_cooloff(front_desk):
    client = Client()
    with time_machine.travel(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC), tick=False) as traveller:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            post_login(client, "front_desk", "wrong")
        assert post_login(client, "front_desk", PASSWORD).status_code == 429
        traveller.shift(settings.AXES_COOLOFF_TIME + dt.timedelta(minutes=1))
        assert post_login(client, "front_desk", PASSWORD).status_code == 302


def test_session_expires_after_inactivity(front_desk):
    client = Client()
    idle = dt.timedelta(minutes=settings.SESSION_IDLE_MINUTES)
    with time_machine.travel(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC), tick=False) as traveller:
        assert post_login(client, "front_desk", PASSWORD).status_code == 302
        traveller.shift(idle - dt.timedelta(minutes=1))
        assert client.get(reverse("home")).status_code == 200  # activity renews the session
        traveller.shift(idle - dt.timedelta(minutes=1))
        assert client.get(reverse("home")).status_code == 200
        traveller.shift(idle + dt.timedelta(minutes=1))
        response = client.get(reverse("home"))
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_inactive_staff_cannot_log_in(front_desk, hq_admin):
    from clinic import services

    services.staff_update(actor=hq_admin, profile=front_desk.staff, is_active=False)
    assert post_login(Client(), "front_desk", PASSWORD).status_code == 200
