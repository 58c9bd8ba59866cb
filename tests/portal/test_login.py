"""Member log-in by SMS code, the limits, the family reach, and the separation of member and
staff sessions."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import time_machine
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditLog
from clinic.notifications.models import Outbox
from portal import services, wechat
from portal.errors import PortalError
from portal.models import LoginCode, WeChatIdentity
from tests.conftest import login

pytestmark = pytest.mark.django_db


def sent_code(phone: str) -> str:
    row = Outbox.objects.filter(template_key="portal.login_code", recipient=phone).order_by("-id").first()
    return row.params["code"]


def log_in(client: Client, phone: str, *, ip: str = "10.0.0.1"):
    client.post(reverse("portal:login"), {"phone": phone}, REMOTE_ADDR=ip)
    return client.post(reverse("portal:login_code"), {"code": sent_code(phone)}, REMOTE_ADDR=ip)


def test_code_goes_through_the_outbox_as_a_service_message_and_is_stored_hashed(portal_family):
    row = services.login_code_request(phone="139 1111 0001", ip_address="10.0.0.1")
    message = Outbox.objects.get(template_key="portal.login_code")
    assert message.purpose == "service" and message.person_key == ""  # never capped
    assert message.recipient == portal_family.phone and message.channel == "sms"
    code = message.params["code"]
    assert (
        len(code) == 6 and code not in row.code_hash and row.code_hash == services.code_hash(row.phone, code)
    )
    assert row.expires_at - row.created_at == dt.timedelta(minutes=5)


def test_a_code_asked_for_while_redis_is_down_is_in_the_outbox_for_the_beat(
    portal_family, client, monkeypatch, django_capture_on_commit_callbacks
):
    """The "send it now" nudge cannot reach the worker: the member still gets the code page,
    and the row waits in PostgreSQL for the beat sender (benchmarks/drills.py, redis_down)."""
    import kombu.exceptions

    from clinic.notifications import tasks

    def down(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_due, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:login"), {"phone": portal_family.phone})
    assert response.status_code == 302 and response["Location"] == reverse("portal:login_code")
    assert Outbox.objects.get(template_key="portal.login_code").status == "pending"


def test_unknown_phone_gets_the_same_page_but_no_message(db, client):
    response = client.post(reverse("portal:login"), {"phone": "13900000009"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:login_code")
    assert not Outbox.objects.exists()
    assert LoginCode.objects.get().sent is False


def test_log_in_reaches_the_whole_family_with_a_switcher(portal_family, client):
    response = log_in(client, portal_family.phone)
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    page = client.get(reverse("portal:home"))
    assert page.status_code == 200
    html = page.content.decode()
    for person in portal_family.people:
        assert person.name in html  # the switcher lists parent, spouse and child
    assert AuditLog.objects.filter(action="portal.login").count() == 1
    client.post(reverse("portal:switch", args=[portal_family.child.pk]))
    assert client.get(reverse("portal:home")).context["request"].portal.member == portal_family.child


def test_switch_to_another_family_is_a_404(member_client, other_family):
    response = member_client.post(reverse("portal:switch", args=[other_family.child.pk]))
    assert response.status_code == 404


def test_wrong_codes_are_counted_and_the_fifth_ends_the_code(portal_family, client):
    client.post(reverse("portal:login"), {"phone": portal_family.phone})
    good = sent_code(portal_family.phone)
    bad = "000000" if good != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = client.post(reverse("portal:login_code"), {"code": bad})
        assert f"{left}" in response.content.decode()
    response = client.post(reverse("portal:login_code"), {"code": bad})
    assert (
        "ask for a new code" in response.content.decode().lower() or "重新获取" in response.content.decode()
    )
    response = client.post(reverse("portal:login_code"), {"code": good})
    assert response.status_code == 200  # the right code no longer works
    assert client.get(reverse("portal:home")).status_code != 200


def test_code_expires_after_five_minutes(portal_family):
    services.login_code_request(phone=portal_family.phone)
    code = sent_code(portal_family.phone)
    later = timezone.now() + dt.timedelta(minutes=5, seconds=1)
    with time_machine.travel(later), pytest.raises(PortalError) as exc:
        services.login_code_verify(phone=portal_family.phone, code=code)
    assert exc.value.code == "expired"


def test_a_new_code_ends_the_older_one(portal_family):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        services.login_code_request(phone=portal_family.phone)
        first = sent_code(portal_family.phone)
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        services.login_code_request(phone=portal_family.phone)
        second = sent_code(portal_family.phone)
        if first != second:
            with pytest.raises(PortalError):
                services.login_code_verify(phone=portal_family.phone, code=first)
        assert services.login_code_verify(phone=portal_family.phone, code=second)


def test_rate_limits_per_phone(portal_family):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        services.login_code_request(phone=portal_family.phone)
        with pytest.raises(PortalError) as exc:  # again at once: wait a minute
            services.login_code_request(phone=portal_family.phone)
        assert exc.value.code == "rate_limited"
    for i in range(1, 5):
        with time_machine.travel(start + dt.timedelta(minutes=2 * i), tick=False):
            services.login_code_request(phone=portal_family.phone)
    with time_machine.travel(start + dt.timedelta(minutes=11), tick=False):
        with pytest.raises(PortalError) as exc:  # the 6th within the hour
            services.login_code_request(phone=portal_family.phone)
        assert exc.value.code == "rate_limited"
        assert "49" in str(exc.value.message)  # minutes until the first falls out of the hour
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        services.login_code_request(phone=portal_family.phone)


@override_settings(PORTAL_CODE_PER_IP_HOUR=3)
def test_rate_limit_per_ip(db, client):
    for n in range(3):
        client.post(reverse("portal:login"), {"phone": f"1390000000{n}"}, REMOTE_ADDR="10.9.9.9")
    response = client.post(reverse("portal:login"), {"phone": "13900000005"}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 200
    assert "Too many codes" in response.content.decode() or "验证码请求过于频繁" in response.content.decode()
    other_ip = Client().post(reverse("portal:login"), {"phone": "13900000005"}, REMOTE_ADDR="10.9.9.8")
    assert other_ip.status_code == 302


def test_bad_phone_is_a_form_error(db, client):
    response = client.post(reverse("portal:login"), {"phone": "12ab"})
    assert response.status_code == 200 and not LoginCode.objects.exists()


def test_member_session_reaches_no_staff_url(member_client):
    for name in ("home", "members:list", "loyalty:rewards_desk", "admin:index"):
        response = member_client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith((reverse("login"), reverse("admin:login")))


def test_staff_session_is_not_a_member(front_desk, portal_family):
    staff = login(front_desk)
    response = staff.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


def test_logout_ends_the_member_session(member_client):
    assert member_client.get(reverse("portal:home")).status_code == 200
    member_client.post(reverse("portal:logout"))
    assert member_client.get(reverse("portal:home")).status_code == 302


def test_session_cookie_is_separate_and_scoped_to_the_portal(portal_family, client):
    response = log_in(client, portal_family.phone)
    cookie = response.cookies["clinic_portal"]
    assert cookie["path"] == "/portal/" and cookie["httponly"]
    assert "sessionid" not in response.cookies


def test_a_removed_guardian_link_takes_effect_at_once(member_client, portal_family):
    from members.models import FamilyLink
    from members.services import family_link_remove

    family_link_remove(
        actor=None, link=FamilyLink.objects.get(member=portal_family.child, relative=portal_family.parent)
    )
    response = member_client.post(reverse("portal:switch", args=[portal_family.child.pk]))
    assert response.status_code == 404


# --- WeChat (snsapi_base) -------------------------------------------------------------------

WECHAT = {"app_id": "wx123", "app_secret": "s3cret"}


@pytest.fixture
def wechat_api(monkeypatch):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        assert request.url.path == "/sns/oauth2/access_token"
        if request.url.params["code"] == "good":
            return httpx.Response(
                200, json={"openid": "oOPENID1", "access_token": "x", "scope": "snsapi_base"}
            )
        return httpx.Response(200, json={"errcode": 40029, "errmsg": "invalid code"})

    monkeypatch.setattr(wechat, "TRANSPORT", httpx.MockTransport(handler))
    return calls


@override_settings(PORTAL_WECHAT=WECHAT)
def test_wechat_first_visit_binds_after_sms_then_logs_in_directly(portal_family, client, wechat_api):
    start = client.get(reverse("portal:wechat_start"))
    assert start.status_code == 302 and "snsapi_base" in start["Location"]
    state = client.get(reverse("portal:login")).context["request"].portal.get("portal_wechat_state")
    response = client.get(reverse("portal:wechat_callback"), {"code": "good", "state": state})
    assert response["Location"] == reverse("portal:login")
    log_in(client, portal_family.phone)
    assert WeChatIdentity.objects.get(openid="oOPENID1").phone == portal_family.phone
    # Another day, another browser: WeChat alone logs in.
    fresh = Client()
    fresh.get(reverse("portal:wechat_start"))
    state = fresh.get(reverse("portal:login")).context["request"].portal.get("portal_wechat_state")
    response = fresh.get(reverse("portal:wechat_callback"), {"code": "good", "state": state})
    assert response["Location"] == reverse("portal:home")
    assert fresh.get(reverse("portal:home")).status_code == 200
    assert len(wechat_api) == 2


@override_settings(PORTAL_WECHAT=WECHAT)
def test_wechat_bad_code_or_state_falls_back_to_sms(db, client, wechat_api):
    client.get(reverse("portal:wechat_start"))
    state = client.get(reverse("portal:login")).context["request"].portal.get("portal_wechat_state")
    assert client.get(reverse("portal:wechat_callback"), {"code": "bad", "state": state})[
        "Location"
    ] == reverse("portal:login")
    assert client.get(reverse("portal:wechat_callback"), {"code": "good", "state": "forged"})["Location"] == (
        reverse("portal:login")
    )
    assert not WeChatIdentity.objects.exists()


def test_wechat_is_404_when_not_configured(db, client):
    assert client.get(reverse("portal:wechat_start")).status_code == 404


def test_purge_removes_only_old_codes(portal_family):
    from portal.tasks import purge_codes

    services.login_code_request(phone=portal_family.phone)
    LoginCode.objects.create(
        phone=portal_family.phone,
        code_hash="x",
        created_at=timezone.now() - dt.timedelta(days=3),
        expires_at=timezone.now() - dt.timedelta(days=3),
    )
    assert purge_codes.apply().get() == 1
    assert LoginCode.objects.count() == 1
