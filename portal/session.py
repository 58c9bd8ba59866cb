"""Member sessions, kept apart from staff sessions.

A member's session lives in its own cookie (``PORTAL_SESSION_COOKIE_NAME``, path ``/portal/``)
and its own session row, never in the staff session: a member session therefore never makes
``request.user`` authenticated (every staff view still sends it to the staff log-in), and a
staff log-in never makes anyone a member (``request.portal.member`` stays None). The session
stores the phone that proved itself and the person chosen in the switcher; who the phone
reaches is looked up again on every request, so a family link removed at the desk, or a record
restricted or merged, takes effect on the member's next tap.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.utils import timezone
from django.utils.functional import cached_property

from .selectors import members_for_phone

PHONE = "portal_phone"
ACTIVE = "portal_member"
VIA = "portal_via"
AUTH_AT = "portal_auth_at"
PENDING_PHONE = "portal_pending_phone"
PENDING_OPENID = "portal_pending_openid"
PENDING_NEXT = "portal_pending_next"
WECHAT_STATE = "portal_wechat_state"
PREFIX = "/portal/"


def cookie_name() -> str:
    return getattr(settings, "PORTAL_SESSION_COOKIE_NAME", "clinic_portal")


def session_age() -> int:
    return int(getattr(settings, "PORTAL_SESSION_IDLE_DAYS", 14)) * 86400


def _store_class():
    return import_module(settings.SESSION_ENGINE).SessionStore


# What a member may do for themselves through a service that checks a permission: redeem
# their own points for a reward (loyalty.rewards.reward_redeem). Nothing else.
MEMBER_SELF_SERVICE_PERMS = frozenset({"loyalty.redeem_reward"})


class PortalActor:
    """The member as the actor of a service: no staff account (``pk`` None, so the audit
    row's actor is empty), only the self-service permissions above, and a name that says who
    acted in the audit log. Never ``request.user``: it opens no staff page."""

    pk = None
    is_authenticated = False
    is_staff = False
    is_superuser = False

    def __init__(self, member):
        self.member = member

    def get_username(self) -> str:
        return f"会员 {self.member.name} #{self.member.pk}"

    def has_perm(self, perm, obj=None) -> bool:
        return perm in MEMBER_SELF_SERVICE_PERMS

    def has_perms(self, perms, obj=None) -> bool:
        return all(p in MEMBER_SELF_SERVICE_PERMS for p in perms)

    def __str__(self) -> str:
        return self.get_username()


class SelfServiceActor:
    """A visitor of a public portal page acting for themselves (a friend registering from a
    referral link): no staff account, and only the permissions listed, which that page's
    one service needs (recording the referrer the link names)."""

    pk = None
    is_authenticated = False
    is_staff = False
    is_superuser = False

    def __init__(self, label: str, perms: frozenset[str] = frozenset()):
        self.label = label
        self.perms = perms

    def get_username(self) -> str:
        return self.label

    def has_perm(self, perm, obj=None) -> bool:
        return perm in self.perms

    def has_perms(self, perms, obj=None) -> bool:
        return all(p in self.perms for p in perms)

    def __str__(self) -> str:
        return self.label


class Portal:
    """``request.portal``: the member session of this request."""

    def __init__(self, session):
        self.session = session

    @cached_property
    def phone(self) -> str:
        return self.session.get(PHONE, "") if self.session is not None else ""

    @cached_property
    def members(self) -> list:
        return members_for_phone(self.phone) if self.phone else []

    @property
    def member_ids(self) -> list[int]:
        return [m.pk for m in self.members]

    @cached_property
    def member(self):
        """The person the pages are about (the switcher's choice), or None: not logged in."""
        if not self.members:
            return None
        chosen = self.session.get(ACTIVE)
        return next((m for m in self.members if m.pk == chosen), self.members[0])

    @property
    def is_authenticated(self) -> bool:
        return self.member is not None

    @property
    def actor(self) -> PortalActor | None:
        return PortalActor(self.member) if self.member else None

    def reaches(self, member_id) -> bool:
        try:
            return int(member_id) in self.member_ids
        except (TypeError, ValueError):
            return False

    # --- changes ---------------------------------------------------------------------------

    def _ensure(self):
        if self.session is None:
            self.session = _store_class()()
        return self.session

    def login(self, *, phone: str, via: str) -> None:
        """Start a fresh session (a new key: no fixation) for ``phone``."""
        old = self.session
        keep = {}
        if old is not None:
            keep = {k: old[k] for k in (PENDING_OPENID,) if k in old}
            old.delete()
        self.session = _store_class()()
        self.session.update(keep)
        self.session[PHONE] = phone
        self.session[VIA] = via
        self.session[AUTH_AT] = timezone.now().isoformat()
        self.session.set_expiry(session_age())
        for name in ("phone", "members", "member"):
            self.__dict__.pop(name, None)

    def switch(self, member_id: int) -> None:
        self._ensure()[ACTIVE] = int(member_id)
        self.__dict__.pop("member", None)

    def logout(self) -> None:
        if self.session is not None:
            self.session.flush()
        for name in ("phone", "members", "member"):
            self.__dict__.pop(name, None)
        self.session = None

    def set(self, key: str, value) -> None:
        self._ensure()[key] = value

    def get(self, key: str, default=None):
        return self.session.get(key, default) if self.session is not None else default

    def pop(self, key: str, default=None):
        return self.session.pop(key, default) if self.session is not None else default


class PortalSessionMiddleware:
    """Loads the member session for ``/portal/`` requests only (the cookie's path is
    ``/portal/`` too, so a browser never sends it elsewhere) and saves it on the way out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(PREFIX):
            request.portal = Portal(None)
            return self.get_response(request)
        key = request.COOKIES.get(cookie_name())
        session = _store_class()(key) if key else None
        if session is not None and not session.exists(key):
            session = None
        request.portal = Portal(session)
        response = self.get_response(request)
        self._save(request, response)
        return response

    def _save(self, request, response) -> None:
        portal = request.portal
        session = portal.session
        if session is None:
            if request.COOKIES.get(cookie_name()):
                response.delete_cookie(cookie_name(), path=PREFIX, samesite="Lax")
            return
        if response.status_code >= 500:
            return
        if portal.phone:
            session.set_expiry(session_age())  # idle timeout: every request renews it
        elif session.get_expiry_age() > 3600:
            session.set_expiry(3600)  # a half-finished log-in (phone typed, code not yet)
        session.save()
        response.set_cookie(
            cookie_name(),
            session.session_key,
            max_age=session.get_expiry_age(),
            path=PREFIX,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        if portal.phone:
            from clinic.middleware import add_no_store

            add_no_store(response)
