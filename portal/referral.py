"""The public share page's one write: a friend registers themselves as a lead, with the
referrer the link names, in one transaction (``members.member_register`` with the ``referrer``
registration field, so ``loyalty.referral_set``'s guards apply: not oneself, not the same
phone or family)."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from clinic.errors import DomainError
from members.models import AcquisitionChannel, ConsentChannel, ConsentKind, Member, Stage

from .errors import PortalError
from .session import SelfServiceActor

SHARES_PER_IP_HOUR = 10


def share_actor(referrer: Member) -> SelfServiceActor:
    return SelfServiceActor(
        f"portal:share (referral by member:{referrer.pk})", frozenset({"loyalty.set_referrer"})
    )


def _rate_check(ip: str | None) -> None:
    if not ip:
        return
    key = f"portal:share:{ip}"
    count = cache.get_or_set(key, 0, 3600)
    if count >= SHARES_PER_IP_HOUR:
        raise PortalError(
            _("Too many registrations from this network. Please try again in an hour."), code="rate_limited"
        )
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, 3600)


def friend_register(
    *, referrer: Member, name: str, phone: str, marketing_sms: bool, ip_address: str | None = None
) -> Member | None:
    """Register the friend as a lead of the referrer's branch, referred by ``referrer``.
    Returns the new person, or None when the same phone and a similar name are already on
    record (the page thanks them all the same: it tells no one who is registered)."""
    from members.services import consent_grant, member_register

    from .services import clean_mobile

    phone = clean_mobile(phone)
    _rate_check(ip_address)
    actor = share_actor(referrer)
    channel = AcquisitionChannel.objects.filter(code="referral", is_active=True).first()
    try:
        with transaction.atomic():
            member = member_register(
                actor=actor,
                branch=referrer.branch,
                name=name,
                phone=phone,
                stage=Stage.LEAD,
                channel=channel,
                language=referrer.language,
                notes=_("Registered themselves from a friend's referral link."),
                extras={"referrer": referrer},
            )
            if marketing_sms:
                consent_grant(
                    actor=actor,
                    member=member,
                    kind=ConsentKind.MARKETING_SMS,
                    channel=ConsentChannel.WEB,
                    note=_("Given on the referral share page."),
                )
    except DomainError as exc:
        if exc.code == "duplicate":
            return None
        raise
    return member
