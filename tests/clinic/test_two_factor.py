"""Two-step verification (clinic.two_factor): who must enrol, the gate, log-in with a code or
a backup code, HQ's reset (audited), and the admin site's refusal of unverified sessions."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import two_factor
from clinic.models import AuditLog
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


def password_login(user) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def code_for(device: TOTPDevice, drift: int = 0) -> str:
    """The app's code now (``drift`` steps on: a code once accepted is never accepted again,
    so a second log-in within the same 30 s uses the next one, which the tolerance allows)."""
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift)
    return f"{value:0{device.digits}d}"


def enrol(client: Client, user) -> list[str]:
    client.get(reverse("clinic:two_factor_setup"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("clinic:two_factor_setup"), {"token": code_for(device)})
    assert response.status_code == 200, response.content
    return list(response.context["codes"])


def test_required_roles(front_desk, doctor, manager, hq_admin):
    assert two_factor.is_required(manager)
    assert two_factor.is_required(hq_admin)
    assert not two_factor.is_required(front_desk)
    assert not two_factor.is_required(doctor)


def test_manager_without_device_reaches_only_enrolment_and_logout(manager):
    client = password_login(manager)
    for url in (reverse("home"), reverse("clinic:catalog"), reverse("clinic:two_factor"), "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("clinic:two_factor_setup"))
    htmx = client.get(reverse("clinic:catalog"), headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx["HX-Redirect"] == reverse("clinic:two_factor_setup")
    page = client.get(reverse("clinic:two_factor_setup"))
    assert page.status_code == 200
    assert b"<svg" in page.content and "no-store" in page["Cache-Control"]
    assert client.post(reverse("logout")).status_code == 302


def test_enrolment_then_login_with_code_and_with_backup_code(manager):
    client = password_login(manager)
    codes = enrol(client, manager)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(reverse("home")).status_code == 200
    assert AuditLog.objects.filter(action="clinic.two_factor.enrolled", actor=manager).count() == 1

    # Next log-in: the code page until a code is entered.
    client = password_login(manager)
    assert client.get(reverse("home"))["Location"].startswith(reverse("clinic:two_factor_verify"))
    wrong = client.post(reverse("clinic:two_factor_verify"), {"token": "000000"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    device = TOTPDevice.objects.get(user=manager, confirmed=True)
    device.throttle_reset()
    ok = client.post(
        reverse("clinic:two_factor_verify"), {"token": code_for(device, 1), "next": "/clinic/catalog/"}
    )
    assert ok.status_code == 302 and ok["Location"] == "/clinic/catalog/"
    assert client.get(reverse("home")).status_code == 200

    # A backup code works once.
    client = password_login(manager)
    assert client.post(reverse("clinic:two_factor_verify"), {"token": codes[0]}).status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    again = password_login(manager)
    assert again.post(reverse("clinic:two_factor_verify"), {"token": codes[0]}).status_code == 200
    assert AuditLog.objects.filter(action="clinic.two_factor.backup_code_used").count() == 1


def test_open_redirect_refused_after_verify(manager):
    client = password_login(manager)
    enrol(client, manager)
    client = password_login(manager)
    device = TOTPDevice.objects.get(user=manager, confirmed=True)
    response = client.post(
        reverse("clinic:two_factor_verify"), {"token": code_for(device, 1), "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and not response["Location"].startswith("https://evil")


def test_front_desk_may_enrol_and_turn_off(front_desk):
    client = password_login(front_desk)
    assert client.get(reverse("home")).status_code == 200  # not required
    enrol(client, front_desk)
    assert password_login(front_desk).get(reverse("home")).status_code == 302  # now asked for a code
    response = client.post(reverse("clinic:two_factor_disable"))
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=front_desk).exists()
    assert password_login(front_desk).get(reverse("home")).status_code == 200


def test_manager_may_not_turn_off(manager):
    client = login(manager)
    client.post(reverse("clinic:two_factor_disable"))
    assert TOTPDevice.objects.filter(user=manager).exists()


def test_backup_codes_renewed(manager):
    client = password_login(manager)
    old = enrol(client, manager)
    response = client.post(reverse("clinic:two_factor_backup_codes"), {"confirm": "renew"})
    new = response.context["codes"]
    assert not set(old) & set(new)
    assert StaticToken.objects.filter(device__user=manager).count() == 10


def test_hq_reset_is_audited_and_manager_may_not(hq_admin, manager, front_desk):
    client = password_login(front_desk)
    enrol(client, front_desk)
    with pytest.raises(two_factor.ClinicError):
        two_factor.two_factor_reset(actor=manager, user=front_desk)
    assert two_factor.two_factor_reset(actor=hq_admin, user=front_desk)
    assert not TOTPDevice.objects.filter(user=front_desk).exists()
    row = AuditLog.objects.get(action="clinic.two_factor.reset")
    assert row.actor == hq_admin and row.target_id == str(front_desk.pk)


def test_hq_reset_through_admin_action(hq_admin, manager):
    client = password_login(manager)
    enrol(client, manager)
    admin = login(hq_admin)
    response = admin.post(
        reverse("admin:clinic_staffprofile_changelist"),
        {"action": "reset_two_factor", "_selected_action": [manager.staff.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=manager, confirmed=True).exists()
    # The manager's next log-in goes to enrolment again.
    assert (
        password_login(manager)
        .get(reverse("home"))["Location"]
        .startswith(reverse("clinic:two_factor_setup"))
    )


def test_admin_site_refuses_unverified_session(hq_admin):
    client = Client()
    client.force_login(hq_admin, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/admin/").status_code == 302
    from django.contrib import admin
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = hq_admin
    hq_admin.is_verified = lambda: False
    assert not admin.site.has_permission(request)
    hq_admin.is_verified = lambda: True
    assert admin.site.has_permission(request)
    assert login(hq_admin).get("/admin/").status_code == 200


def test_conftest_login_marks_required_roles_verified(manager, front_desk):
    assert login(manager).get(reverse("home")).status_code == 200
    assert login(front_desk).get(reverse("home")).status_code == 200
    assert not TOTPDevice.objects.filter(user=front_desk).exists()
