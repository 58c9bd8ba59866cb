"""The portal's settings and their defaults (each may be set in Django settings)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "PORTAL_SESSION_COOKIE_NAME": "clinic_portal",
    "PORTAL_SESSION_IDLE_DAYS": 14,
    # An SMS code: how long it is good for, and how many wrong tries end it.
    "PORTAL_CODE_MINUTES": 5,
    "PORTAL_CODE_TRIES": 5,
    # Rate limits: a new code for one phone at most every N seconds, N an hour and a day;
    # codes asked for from one IP address in an hour (a clinic's Wi-Fi is shared: generous).
    "PORTAL_CODE_RESEND_SECONDS": 60,
    "PORTAL_CODE_PER_PHONE_HOUR": 5,
    "PORTAL_CODE_PER_PHONE_DAY": 10,
    "PORTAL_CODE_PER_IP_HOUR": 30,
    # WeChat log-in (snsapi_base): {"app_id": …, "app_secret": …}; empty: no WeChat button.
    "PORTAL_WECHAT": {},
    "PORTAL_WECHAT_API": "https://api.weixin.qq.com",
    "PORTAL_WECHAT_AUTHORIZE": "https://open.weixin.qq.com/connect/oauth2/authorize",
    # The clinic's phone number shown where the member is asked to call (recalls, help).
    "PORTAL_CLINIC_PHONE": "",
}


def get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def wechat() -> dict:
    value = get("PORTAL_WECHAT") or {}
    return value if value.get("app_id") and value.get("app_secret") else {}
