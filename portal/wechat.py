"""WeChat service-account log-in (网页授权, scope ``snsapi_base``: the openid only, no prompt).

Enabled by ``PORTAL_WECHAT = {"app_id": …, "app_secret": …}``. The member's browser goes to
WeChat's authorize page and comes back with a ``code``; the server exchanges it for the openid
(``/sns/oauth2/access_token``) over httpx. An openid bound to a phone logs in at once; a new
one is remembered in the half-finished session and bound after the SMS code log-in.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
from django.utils.translation import gettext as _

from clinic.notifications import conf as notification_conf

from . import conf
from .errors import PortalError

# Tests replace this with an ``httpx.MockTransport``; production uses the real network.
TRANSPORT: httpx.BaseTransport | None = None


def enabled() -> bool:
    return bool(conf.wechat())


def authorize_url(*, redirect_uri: str, state: str) -> str:
    query = urlencode(
        {
            "appid": conf.wechat()["app_id"],
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
        }
    )
    return f"{conf.get('PORTAL_WECHAT_AUTHORIZE')}?{query}#wechat_redirect"


def openid_for_code(code: str) -> str:
    """The openid WeChat gives for this one-time ``code``, or ``PortalError``."""
    settings = conf.wechat()
    if not settings or not code:
        raise PortalError(_("WeChat log-in is not available. Please log in with an SMS code."), code="wechat")
    params = {
        "appid": settings["app_id"],
        "secret": settings["app_secret"],
        "code": code,
        "grant_type": "authorization_code",
    }
    timeout = notification_conf.get("NOTIFICATIONS_HTTP_TIMEOUT_SECONDS")
    try:
        with httpx.Client(
            base_url=conf.get("PORTAL_WECHAT_API"), timeout=timeout, transport=TRANSPORT
        ) as client:
            response = client.get("/sns/oauth2/access_token", params=params)
            data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PortalError(
            _("WeChat could not be reached. Please log in with an SMS code."), code="wechat"
        ) from exc
    openid = data.get("openid") if isinstance(data, dict) else None
    if not openid:
        raise PortalError(
            _("WeChat did not confirm who you are. Please log in with an SMS code."), code="wechat"
        )
    return str(openid)[:128]
