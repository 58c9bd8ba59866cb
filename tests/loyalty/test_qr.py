"""QR images: the card number and the referral link, as SVG from permission-checked,
branch-scoped views; shown on the profile tab, the printable card and the referrals page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from loyalty import qr, referrals
from tests.members.factories import make_member

from .factories import enrolled

pytestmark = pytest.mark.django_db


def dark_path(svg: bytes) -> str:
    """The modules of the symbol (the title is translated; the modules are the data)."""
    return re.search(rb'<path stroke="#000" d="([^"]+)"', svg).group(1).decode()


@pytest.fixture
def gold(branch):
    return enrolled(branch, name="赵雪", phone="13900001001")


def test_qr_svg_is_a_scalable_standalone_image_with_a_quiet_zone():
    svg = qr.qr_svg("JA0000017", title="<卡号> & co")
    text = svg.decode()
    assert text.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox=')
    assert 'fill="#fff"' in text  # white background: scans from a dark screen or paper
    assert "&lt;卡号&gt; &amp; co" in text  # the title is escaped
    assert "<script" not in text
    assert dark_path(qr.qr_svg("JA0000017")) == dark_path(svg)
    assert dark_path(qr.qr_svg("JA0000018")) != dark_path(svg)


def test_card_qr_encodes_the_card_number(client_for, front_desk, gold):
    response = client_for(front_desk).get(reverse("loyalty:card_qr", args=[gold.member.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "private" in response["Cache-Control"]
    assert dark_path(response.content) == dark_path(qr.qr_svg(gold.card_no))


def test_card_qr_scope_and_permissions(client_for, front_desk, outsider, branch, gold, db):
    from django.contrib.auth import get_user_model

    url = reverse("loyalty:card_qr", args=[gold.member.pk])
    assert client_for(outsider).get(url).status_code == 404
    nobody = get_user_model().objects.create_user("nobody", password="x-Pass-12345")
    assert client_for(nobody).get(url).status_code == 403
    lead = make_member(branch, name="未办卡", phone="13900009999")
    assert client_for(front_desk).get(reverse("loyalty:card_qr", args=[lead.pk])).status_code == 404


def test_anonymous_is_sent_to_log_in(client, gold):
    response = client.get(reverse("loyalty:card_qr", args=[gold.member.pk]))
    assert response.status_code == 302 and "login" in response["Location"]
    response = client.get(reverse("loyalty:referral_qr", args=[gold.member.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_referral_qr_encodes_the_portal_share_link_with_the_code(client_for, front_desk, outsider, gold):
    url = reverse("loyalty:referral_qr", args=[gold.member.pk])
    response = client_for(front_desk).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    code = referrals.referral_code_for(gold.member)
    # The member portal's public share page (portal/links.py), where a friend registers.
    link = f"http://testserver{reverse('portal:share')}?ref={code}"
    assert dark_path(response.content) == dark_path(qr.qr_svg(link))
    assert client_for(outsider).get(url).status_code == 404


def test_pages_show_the_images(client_for, front_desk, gold):
    client = client_for(front_desk)
    card_qr = reverse("loyalty:card_qr", args=[gold.member.pk])
    card = client.get(reverse("loyalty:card", args=[gold.member.pk])).content.decode()
    assert card_qr in card and gold.card_no in card and "data-print" in card
    panel = client.get(reverse("loyalty:panel", args=[gold.member.pk])).content.decode()
    assert card_qr in panel
    page = client.get(reverse("loyalty:referrals", args=[gold.member.pk])).content.decode()
    code = referrals.referral_code_for(gold.member)
    assert reverse("loyalty:referral_qr", args=[gold.member.pk]) in page
    assert f"?ref={code}" in page
    assert not re.findall(r"<script(?![^>]*\bsrc=)", page)  # no inline script (CSP)
