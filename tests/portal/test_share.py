"""The public referral share page: a friend registers themselves as a lead, with consent."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from clinic.models import AuditLog
from loyalty import qr, referrals
from loyalty.coupon_models import Referral
from members.models import Consent, Member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def share_url(code: str) -> str:
    return f"{reverse('portal:share')}?ref={code}"


def test_referral_link_opens_the_public_share_page(portal_family, rf):
    code = referrals.referral_code_for(portal_family.parent)
    link = qr.referral_link(rf.get("/"), code)
    assert link == f"http://testserver{share_url(code)}"
    assert referrals.referrer_resolve(link) == portal_family.parent  # the desk's scanner still works


def test_friend_registers_as_a_referred_lead_with_consent(portal_family, client):
    code = referrals.referral_code_for(portal_family.parent)
    page = client.get(share_url(code))
    assert page.status_code == 200 and "陈**" in page.content.decode()
    assert portal_family.parent.name not in page.content.decode()  # only the first character
    response = client.post(
        share_url(code), {"name": " 好 朋友 ", "phone": "139 5555 0001", "agree": "on", "marketing_sms": "on"}
    )
    assert response.status_code == 200 and b'data-testid="share-done"' in response.content
    friend = Member.objects.get(phone="+8613955550001")
    assert (
        friend.stage == "lead" and friend.name == "好 朋友" and friend.branch == portal_family.parent.branch
    )
    assert friend.channel.code == "referral"
    assert Referral.objects.get(referee=friend).referrer == portal_family.parent
    assert Consent.objects.get(member=friend).kind == "marketing_sms"
    row = AuditLog.objects.get(action="members.member.registered", target_id=str(friend.pk))
    assert row.actor is None and "portal:share" in row.actor_name


def test_consent_is_required_and_nothing_is_saved_without_it(portal_family, client):
    code = referrals.referral_code_for(portal_family.parent)
    before = Member.objects.count()
    response = client.post(share_url(code), {"name": "好朋友", "phone": "13955550002"})
    assert response.status_code == 200 and b"is-invalid" in response.content
    assert Member.objects.count() == before


def test_same_phone_as_the_referrer_is_refused(portal_family, client):
    code = referrals.referral_code_for(portal_family.parent)
    before = Member.objects.count()
    response = client.post(share_url(code), {"name": "另一个人", "phone": portal_family.phone, "agree": "on"})
    assert response.status_code == 200 and b"share-done" not in response.content
    assert Member.objects.count() == before


def test_a_bad_code_says_so_and_registers_nobody(db, client):
    before = Member.objects.count()
    response = client.post(share_url("NOPE"), {"name": "x", "phone": "13955550003", "agree": "on"})
    assert response.status_code == 200 and Member.objects.count() == before


def test_registrations_from_one_network_are_limited(portal_family, client):
    code = referrals.referral_code_for(portal_family.parent)
    for n in range(10):
        client.post(share_url(code), {"name": f"朋友{n}", "phone": f"1395555100{n}", "agree": "on"})
    response = client.post(share_url(code), {"name": "朋友X", "phone": "13955559999", "agree": "on"})
    assert b"share-done" not in response.content
    assert not Member.objects.filter(phone="+8613955559999").exists()


def test_a_friend_registers_while_redis_is_down(portal_family, client, settings):
    """The per-IP limit is kept in the cache: with Redis unreachable (the production cache,
    clinic.cache) it counts nothing for a while, and the page still registers the friend."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.CACHES = {
        "default": {"BACKEND": "clinic.cache.DegradingRedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0"}
    }
    code = referrals.referral_code_for(portal_family.parent)
    response = client.post(share_url(code), {"name": "好朋友", "phone": "139 5555 0009", "agree": "on"})
    assert response.status_code == 200 and b'data-testid="share-done"' in response.content
    assert Member.objects.filter(phone="+8613955550009").exists()
