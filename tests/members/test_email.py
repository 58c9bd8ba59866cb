"""The e-mail address and the e-mail marketing consent (issue 16): stored in the services'
normal form, masked on the profile and the edit form, audited masked, and used by
``member_notify`` for the e-mail channel with its own consent."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import AuditLog
from clinic.notifications.models import Channel, Purpose
from members import services
from members.errors import MemberError
from members.models import ConsentKind, Member
from members.notify import NotifyRefused, member_notify
from tests.notifications.factories import MessageTemplateFactory

from .factories import make_member

pytestmark = pytest.mark.django_db


def test_email_is_normalised_and_bad_ones_refused(branch, front_desk):
    m = make_member(branch, actor=front_desk, email=" Li.Si@Example.COM ")
    assert m.email == "Li.Si@example.com"
    with pytest.raises(MemberError) as exc:
        make_member(branch, actor=front_desk, name="王五", email="not-an-address")
    assert exc.value.field == "email"
    assert not Member.objects.filter(name="王五").exists()
    services.member_update(actor=front_desk, member=m, email="new@example.org")
    row = AuditLog.objects.filter(action="members.member.changed").latest("id")
    assert row.changes["email"] == ["L***@example.com", "n***@example.org"]


def test_profile_and_form_show_the_email_masked(branch, front_desk, client_for):
    m = make_member(branch, actor=front_desk, email="zhangsan@example.com")
    client = client_for(front_desk)
    page = client.get(reverse("members:detail", args=[m.pk]) + "?tab=details").content.decode()
    assert "zhangsan@example.com" not in page and "z***@example.com" in page
    form = client.get(reverse("members:edit", args=[m.pk])).content.decode()
    assert "zhangsan@example.com" not in form and "z***@example.com" in form
    # Blank keeps the address; a new one replaces it.
    client.post(reverse("members:edit", args=[m.pk]), {"name": m.name, "stage": m.stage})
    m.refresh_from_db()
    assert m.email == "zhangsan@example.com"
    client.post(reverse("members:edit", args=[m.pk]), {"name": m.name, "stage": m.stage, "email": "x@y.cn"})
    m.refresh_from_db()
    assert m.email == "x@y.cn"


def test_email_marketing_needs_the_email_consent(branch, front_desk):
    MessageTemplateFactory(channel=Channel.EMAIL, key="promo.cleaning", name="洁牙优惠", body="{name}")
    m = make_member(branch, actor=front_desk, email="a@example.com")
    services.consent_grant(actor=front_desk, member=m, kind=ConsentKind.MARKETING_SMS, channel="paper")

    def send(key="promo:1"):
        return member_notify(
            member=m,
            template_key="promo.cleaning",
            params={"name": "张三"},
            purpose=Purpose.MARKETING,
            channel=Channel.EMAIL,
            dedupe_key=key,
        )

    with pytest.raises(NotifyRefused) as exc:
        send()
    assert exc.value.code == "no_consent"
    consent = services.consent_grant(
        actor=front_desk, member=m, kind=ConsentKind.MARKETING_EMAIL, channel="paper"
    )
    row = send()
    assert row.recipient == "a@example.com" and row.consent_ref == str(consent.pk)
    nobody = make_member(branch, actor=front_desk, name="李四")
    with pytest.raises(NotifyRefused) as exc:
        member_notify(
            member=nobody,
            template_key="promo.cleaning",
            params={},
            purpose=Purpose.SERVICE,
            channel=Channel.EMAIL,
        )
    assert exc.value.code == "no_recipient"
