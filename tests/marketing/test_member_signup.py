"""The member's own event sign-up in the portal: the same capacity and waiting list as staff
sign-up, channel H5 recorded, cancel before the start, and the QR ticket staff scan."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clinic.models import AuditLog
from marketing import campaigns
from marketing.errors import MarketingError
from marketing.models import SignupChannel, SignupStatus
from members.actors import member_actor
from members.models import Tag
from tests.members.factories import make_member

from .test_campaigns import _campaign

pytestmark = pytest.mark.django_db


def test_member_signs_up_with_channel_h5_and_waits_past_capacity(marketer, branch, other_branch):
    c = _campaign(marketer, branch, capacity=1)
    a = make_member(other_branch, name="甲", phone="13900000001")  # any branch's member may come
    b = make_member(branch, name="乙", phone="13900000002")
    sa = campaigns.member_signup_create(actor=member_actor(a), campaign=c, member=a)
    sb = campaigns.member_signup_create(actor=member_actor(b), campaign=c, member=b)
    assert (sa.status, sb.status) == (SignupStatus.CONFIRMED, SignupStatus.WAITING)
    assert sa.channel == SignupChannel.H5 and sa.signed_up_by is None
    row = AuditLog.objects.filter(action="marketing.campaign.signed_up").latest("id")
    assert row.changes["channel"] == "h5" and row.actor_name.endswith(f"#{b.pk}")
    with pytest.raises(MarketingError):
        campaigns.member_signup_create(actor=member_actor(a), campaign=c, member=a)
    promoted = campaigns.member_signup_cancel(actor=member_actor(a), signup=sa)
    assert [p.member_id for p in promoted] == [b.pk]


def test_a_member_cannot_sign_up_or_cancel_for_someone_else(marketer, branch):
    c = _campaign(marketer, branch)
    a, b = make_member(branch, name="甲"), make_member(branch, name="乙", phone="13900000002")
    with pytest.raises(MarketingError):
        campaigns.member_signup_create(actor=member_actor(b), campaign=c, member=a)
    s = campaigns.member_signup_create(actor=member_actor(a), campaign=c, member=a)
    with pytest.raises(MarketingError):
        campaigns.member_signup_cancel(actor=member_actor(b), signup=s)


def test_a_tag_targeted_event_is_open_only_to_people_with_the_tag(marketer, branch):
    tag = Tag.objects.create(name="种植客户")
    c = _campaign(marketer, branch, target_tag=tag)
    a = make_member(branch, name="甲")
    assert c not in campaigns.member_campaigns(a)
    with pytest.raises(MarketingError):
        campaigns.member_signup_create(actor=member_actor(a), campaign=c, member=a)
    a.tags.add(tag)
    assert c in campaigns.member_campaigns(a)


def test_cancel_after_the_start_is_refused(marketer, branch, time_machine):
    c = _campaign(marketer, branch)
    a = make_member(branch, name="甲")
    s = campaigns.member_signup_create(actor=member_actor(a), campaign=c, member=a)
    time_machine.move_to(c.starts_at + dt.timedelta(minutes=5))
    with pytest.raises(MarketingError) as exc:
        campaigns.member_signup_cancel(actor=member_actor(a), signup=s)
    assert exc.value.code == "too_late"


def test_the_qr_ticket_checks_in_at_the_door_of_its_own_event_only(marketer, front_desk, branch):
    c = _campaign(marketer, branch)
    other = _campaign(marketer, branch, name="健康讲座", starts_at=timezone.now() + dt.timedelta(days=3))
    a = make_member(branch, name="甲")  # a lead: no card number to scan
    s = campaigns.member_signup_create(actor=member_actor(a), campaign=c, member=a)
    code = campaigns.ticket_code(s)
    assert code.startswith("E") and campaigns.signup_by_ticket(code.lower()) == s
    assert campaigns.signup_by_ticket(code[:-1] + ("0" if code[-1] != "0" else "1")) is None
    with pytest.raises(MarketingError):
        campaigns.checkin(actor=front_desk, campaign=other, code=code)
    done = campaigns.checkin(actor=front_desk, campaign=c, code=code)
    assert done.status == SignupStatus.ATTENDED
