"""Two-factor log-in (TOTP with django-otp, plus one-time backup codes).

Policy: required for 店长 and 总部 (``CLINIC_TWO_FACTOR_ROLES``) and for anyone who may open
Django admin (``is_staff``/``is_superuser``); available to every other staff member, and once
someone has enrolled, their log-in always asks for a code. Until a required user has enrolled
they can reach only the enrolment page and log-out (``clinic.middleware.TwoFactorMiddleware``).

Devices: one confirmed ``TOTPDevice`` named ``default`` per user and one ``StaticDevice``
named ``backup`` holding the unused backup codes (each code is deleted when used). The
services below are the only writers; each writes one audit row in its transaction.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .errors import ClinicError

TOTP_NAME = "default"
BACKUP_NAME = "backup"
# The alphabet of backup codes: no 0/O, 1/l/I, so a code read off paper is typed right.
_BACKUP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def is_required(user) -> bool:
    """Whether this user must have a verified second factor to use the system."""
    if not getattr(settings, "CLINIC_TWO_FACTOR_REQUIRED", True):
        return False
    if user.is_staff or user.is_superuser:
        return True
    from .selectors import staff_profile

    profile = staff_profile(user)
    return bool(profile and profile.role in settings.CLINIC_TWO_FACTOR_ROLES)


def totp_device(user, *, confirmed: bool | None = True) -> TOTPDevice | None:
    qs = TOTPDevice.objects.filter(user=user, name=TOTP_NAME)
    if confirmed is not None:
        qs = qs.filter(confirmed=confirmed)
    return qs.order_by("-id").first()


def is_enrolled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


# Session key: whether the signed-in user had a device at log-in. It spares every request of
# staff who never enrolled a query; it is dropped at each log-in (``forget_enrolment``) and set
# by this session's own enrol/disable. A device enrolled in another session counts from the
# next log-in; roles that require a code are gated whatever it says.
ENROLLED_SESSION_KEY = "clinic_two_factor_enrolled"


def pending_step(user, session=None) -> str | None:
    """``"setup"`` or ``"verify"`` while a signed-in user still owes a code, else None."""
    if not user.is_authenticated or user.is_verified():
        return None
    required = is_required(user)
    enrolled = session.get(ENROLLED_SESSION_KEY) if session is not None and not required else None
    if enrolled is None:
        enrolled = is_enrolled(user)
        if session is not None:
            session[ENROLLED_SESSION_KEY] = enrolled
    if enrolled:
        return "verify"
    return "setup" if required else None


def forget_enrolment(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver: look the devices up afresh, once, at log-in (so no page
    of a user who never enrolled pays a query for it)."""
    if request is not None and hasattr(request, "session"):
        request.session[ENROLLED_SESSION_KEY] = is_enrolled(user)


def backup_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=BACKUP_NAME).count()


def _new_backup_codes(user) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=BACKUP_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    letters = _BACKUP_ALPHABET[8:]
    # A letter first: a backup code is never mistaken for (or tried as) an app code.
    codes = [
        secrets.choice(letters) + "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(7))
        for _ in range(settings.CLINIC_TWO_FACTOR_BACKUP_CODES)
    ]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def two_factor_setup_start(*, user) -> TOTPDevice:
    """The unconfirmed device of an enrolment under way (a new secret each time it is
    started over); nothing changes for log-in until it is confirmed."""
    with transaction.atomic():
        device = totp_device(user, confirmed=False)
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
        return device


def two_factor_enrol(*, actor, request, token: str) -> list[str]:
    """Confirm the pending TOTP device with a code from the app, replace any earlier device,
    hand out fresh backup codes and mark this session verified. Returns the backup codes
    (shown once). Raises ClinicError on a wrong code."""
    from .services import audit_record

    device = totp_device(actor, confirmed=False)
    if device is None:
        raise ClinicError(_("Start the set-up again: scan the new QR code."), field="token")
    if not device.verify_is_allowed()[0]:
        raise ClinicError(_("Too many wrong codes. Wait a minute and try again."), field="token")
    if not device.verify_token(_clean_token(token)):
        raise ClinicError(_("That code is not right. Enter the 6 digits your app shows now."), field="token")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=actor).exclude(pk=device.pk).delete()
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        device.confirmed = True
        codes = _new_backup_codes(actor)
        audit_record(actor=actor, action="clinic.two_factor.enrolled", target=actor)
    otp_login(request, device)
    request.session[ENROLLED_SESSION_KEY] = True
    return codes


def two_factor_verify(*, request, token: str) -> None:
    """Check a TOTP code or a backup code at log-in and mark the session verified. A backup
    code is used up. Raises ClinicError on a wrong code (django-otp throttles retries)."""
    from .services import audit_record

    user = request.user
    token = _clean_token(token)
    totp = totp_device(user)
    if token.isdigit():
        # A 6-digit code is for the app; backup codes always hold a letter.
        if totp is not None and not totp.verify_is_allowed()[0]:
            raise ClinicError(_("Too many wrong codes. Wait a minute and try again."), field="token")
        if totp is not None and totp.verify_token(token):
            otp_login(request, totp)
            return
        raise ClinicError(_("That code is not right. Enter the 6 digits your app shows now."), field="token")
    backup = StaticDevice.objects.filter(user=user, name=BACKUP_NAME).first()
    if backup is not None and not backup.verify_is_allowed()[0]:
        raise ClinicError(_("Too many wrong codes. Wait a minute and try again."), field="token")
    if backup is not None and backup.verify_token(token.lower()):
        with transaction.atomic():
            audit_record(
                actor=user,
                action="clinic.two_factor.backup_code_used",
                target=user,
                changes={"count": backup.token_set.count()},
            )
        otp_login(request, backup)
        return
    raise ClinicError(_("That backup code is not right, or it was used already."), field="token")


def two_factor_backup_codes_renew(*, actor) -> list[str]:
    """New backup codes for an enrolled user; the old ones stop working."""
    from .services import audit_record

    if not is_enrolled(actor):
        raise ClinicError(_("Set up two-step verification first."))
    with transaction.atomic():
        codes = _new_backup_codes(actor)
        audit_record(actor=actor, action="clinic.two_factor.backup_codes_renewed", target=actor)
    return codes


def two_factor_disable(*, actor, request=None) -> None:
    """A staff member turns off their own optional two-step verification. Refused for the
    roles that require it: they ask HQ for a reset instead."""
    from .services import audit_record

    if is_required(actor):
        raise ClinicError(_("Your role requires two-step verification; it cannot be turned off."))
    with transaction.atomic():
        _delete_devices(actor)
        audit_record(actor=actor, action="clinic.two_factor.disabled", target=actor)
    if request is not None:
        request.session[ENROLLED_SESSION_KEY] = False
        request.session.pop("otp_device_id", None)


def two_factor_reset(*, actor, user) -> bool:
    """HQ removes a staff member's devices (a lost or new phone). Their next log-in asks
    them to enrol again. Returns False when they had none. Needs ``clinic.reset_two_factor``."""
    from .services import audit_record

    if not actor.has_perm("clinic.reset_two_factor"):
        raise ClinicError(_("You may not reset two-step verification."), code="forbidden")
    with transaction.atomic():
        had = _delete_devices(user)
        if had:
            audit_record(actor=actor, action="clinic.two_factor.reset", target=user)
    return had


def _delete_devices(user) -> bool:
    deleted, _rows = TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    return deleted > 0


def _clean_token(token: str) -> str:
    return "".join((token or "").split())[:16]


def provisioning_qr_svg(device: TOTPDevice, *, label: str) -> str:
    """The enrolment QR code as an inline SVG (segno; no image request, no CSP change)."""
    import segno
    from django.utils.http import urlencode

    uri = device.config_url
    # django-otp labels the URL with the username; the issuer makes the entry recognisable.
    if "issuer=" not in uri:
        uri += "&" + urlencode({"issuer": settings.OTP_TOTP_ISSUER})
    qr = segno.make(uri, error="m")
    return qr.svg_inline(scale=5, title=label)


def secret_base32(device: TOTPDevice) -> str:
    """The secret for typing in by hand, in groups of four."""
    from base64 import b32encode

    raw = b32encode(device.bin_key).decode().rstrip("=")
    # Thin spaces: read as groups, copied as one string by most apps.
    return "\u2009".join(raw[i : i + 4] for i in range(0, len(raw), 4))
