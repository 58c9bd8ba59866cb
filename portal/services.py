"""Every write of the portal: SMS log-in codes, WeChat bindings, and the log-in itself.

Codes: six digits from ``secrets``; only an HMAC of (phone, code) under the SECRET_KEY is
stored, so a database dump does not give away a valid code. A code is good for
``PORTAL_CODE_MINUTES`` and ``PORTAL_CODE_TRIES`` tries; a new code ends the older ones. The
rate limits count the code rows themselves (per phone: a pause between codes, a cap an hour
and a day; per IP address: a cap an hour), under an advisory lock per phone, so two quick
requests cannot both pass the check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import zlib

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from clinic.jobs import enqueue_on_commit
from clinic.notifications.models import Channel, Purpose
from clinic.notifications.services import notification_enqueue
from clinic.phones import PhoneError, normalize_phone
from clinic.services import audit_record

from . import conf
from .errors import PortalError
from .models import LoginCode, WeChatIdentity
from .selectors import members_for_phone
from .session import PortalActor

LOGIN_TEMPLATE = "portal.login_code"


def clean_mobile(raw: str) -> str:
    """The E.164 form of a Chinese mobile number, or ``PortalError`` (field ``phone``)."""
    try:
        phone = normalize_phone(raw)
    except PhoneError as exc:
        raise PortalError(_("Enter a valid mobile phone number."), field="phone") from exc
    if not (phone.startswith("+861") and len(phone) == 14):
        raise PortalError(_("Enter a valid mobile phone number."), field="phone")
    return phone


def code_hash(phone: str, code: str) -> str:
    key = hashlib.sha256(f"portal-login:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _minutes(seconds: float) -> int:
    return max(1, int(seconds // 60) + (1 if seconds % 60 else 0))


def _limited(wait_seconds: float) -> PortalError:
    minutes = _minutes(wait_seconds)
    return PortalError(
        ngettext(
            "Too many codes requested. Please try again in %(minutes)d minute.",
            "Too many codes requested. Please try again in %(minutes)d minutes.",
            minutes,
        )
        % {"minutes": minutes},
        code="rate_limited",
        field="phone",
    )


def _check_limits(phone: str, ip: str | None, now: dt.datetime) -> None:
    codes = LoginCode.objects.filter(phone=phone)
    last = codes.order_by("-created_at").values_list("created_at", flat=True).first()
    resend = conf.get("PORTAL_CODE_RESEND_SECONDS")
    if last and (now - last).total_seconds() < resend:
        wait = resend - (now - last).total_seconds()
        raise PortalError(
            ngettext(
                "A code was just sent. You can ask for a new one in %(seconds)d second.",
                "A code was just sent. You can ask for a new one in %(seconds)d seconds.",
                int(wait) + 1,
            )
            % {"seconds": int(wait) + 1},
            code="rate_limited",
            field="phone",
        )
    for window, limit in (
        (dt.timedelta(hours=1), conf.get("PORTAL_CODE_PER_PHONE_HOUR")),
        (dt.timedelta(days=1), conf.get("PORTAL_CODE_PER_PHONE_DAY")),
    ):
        recent = list(codes.filter(created_at__gt=now - window).order_by("created_at")[:limit])
        if len(recent) >= limit:
            raise _limited((recent[0].created_at + window - now).total_seconds())
    if ip:
        window, limit = dt.timedelta(hours=1), conf.get("PORTAL_CODE_PER_IP_HOUR")
        recent = list(
            LoginCode.objects.filter(ip_address=ip, created_at__gt=now - window).order_by("created_at")[
                :limit
            ]
        )
        if len(recent) >= limit:
            raise _limited((recent[0].created_at + window - now).total_seconds())


def _lock_phone(phone: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"portal-login:{phone}".encode())])


@transaction.atomic
def login_code_request(*, phone: str, ip_address: str | None = None) -> LoginCode:
    """Make a code for ``phone`` and queue it by SMS (a care/service message: no consent
    needed, not counted by the contact cap). A phone that reaches nobody gets a row (it counts
    toward the limits) but no message, and the caller shows the same page either way.
    Raises ``PortalError`` (``rate_limited``) when a limit is reached."""
    phone = clean_mobile(phone)
    _lock_phone(phone)
    now = timezone.now()
    _check_limits(phone, ip_address, now)
    # A new code ends the older ones: only the latest SMS is good.
    LoginCode.objects.filter(phone=phone, consumed_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    code = f"{secrets.randbelow(10**6):06d}"
    people = members_for_phone(phone)
    row = LoginCode.objects.create(
        phone=phone,
        code_hash=code_hash(phone, code),
        ip_address=ip_address,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=conf.get("PORTAL_CODE_MINUTES")),
        sent=bool(people),
    )
    if people:
        first = people[0]
        notification_enqueue(
            channel=Channel.SMS,
            recipient=phone,
            template_key=LOGIN_TEMPLATE,
            params={"code": code, "minutes": conf.get("PORTAL_CODE_MINUTES")},
            purpose=Purpose.SERVICE,
            dedupe_key=f"portal:login:{row.pk}",
            language=first.language,
            branch=first.branch,
        )
        # Ask a worker to send at once rather than at the next beat (a member is waiting); with
        # the broker down, the beat sender sends the row within a minute of its return.
        from clinic.notifications.tasks import send_due

        enqueue_on_commit(send_due)
    return row


def login_code_verify(*, phone: str, code: str, ip_address: str | None = None) -> list:
    """Check ``code`` against the latest good code of ``phone`` and return the people the
    phone reaches (the log-in). A wrong try is counted (and stays counted: it commits before
    the error is raised); the last allowed wrong try ends the code."""
    phone = clean_mobile(phone)
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        raise PortalError(_("Enter the 6-digit code from the SMS."), field="code")
    tries = conf.get("PORTAL_CODE_TRIES")
    error = None
    with transaction.atomic():
        now = timezone.now()
        row = (
            LoginCode.objects.select_for_update()
            .filter(phone=phone, consumed_at__isnull=True, expires_at__gt=now)
            .order_by("-created_at")
            .first()
        )
        if row is None:
            error = PortalError(
                _("The code has expired. Please ask for a new one."), code="expired", field="code"
            )
        elif row.attempts >= tries:
            error = PortalError(
                _("Too many wrong tries. Please ask for a new code."), code="too_many_tries", field="code"
            )
        else:
            row.attempts += 1
            if hmac.compare_digest(row.code_hash, code_hash(phone, code)) and row.sent:
                row.consumed_at = now
                row.save(update_fields=["attempts", "consumed_at"])
            else:
                left = tries - row.attempts
                if left <= 0:
                    row.expires_at = now
                    error = PortalError(
                        _("Too many wrong tries. Please ask for a new code."),
                        code="too_many_tries",
                        field="code",
                    )
                else:
                    error = PortalError(
                        ngettext(
                            "The code is not right. %(left)d try left.",
                            "The code is not right. %(left)d tries left.",
                            left,
                        )
                        % {"left": left},
                        code="wrong",
                        field="code",
                    )
                row.save(update_fields=["attempts", "expires_at"])
    if error is not None:
        raise error
    people = members_for_phone(phone)
    if not people:
        raise PortalError(_("This number is not registered with the clinic."), code="unknown", field="phone")
    return people


@transaction.atomic
def portal_login_record(*, member, via: str, ip_address: str | None = None) -> None:
    """The audit row of a log-in (who, how, from where)."""
    audit_record(
        actor=PortalActor(member),
        action="portal.login",
        target=member,
        changes={"via": via},
        ip_address=ip_address,
    )


@transaction.atomic
def wechat_identity_bind(*, app_id: str, openid: str, phone: str, member) -> WeChatIdentity:
    """Bind a WeChat openid to the phone that just proved itself by SMS (re-binding moves it)."""
    identity, created = WeChatIdentity.objects.update_or_create(
        app_id=app_id, openid=openid, defaults={"phone": phone, "last_login_at": timezone.now()}
    )
    audit_record(
        actor=PortalActor(member),
        action="portal.wechat.bound",
        target=member,
        changes={"created": created},
    )
    return identity


@transaction.atomic
def wechat_identity_touch(*, identity: WeChatIdentity) -> None:
    WeChatIdentity.objects.filter(pk=identity.pk).update(last_login_at=timezone.now())


@transaction.atomic
def login_codes_purge(*, older_than: dt.timedelta = dt.timedelta(days=2)) -> int:
    """Delete codes older than the longest rate-limit window (they limit nothing any more)."""
    deleted, _rows = LoginCode.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
