"""seed_demo gives the member portal a demo family to log in as (README)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_demo_family_has_what_the_portal_shows():
    from appointments.models import Appointment
    from clinic.models import Branch
    from loyalty.coupon_models import Coupon
    from loyalty.models import PointsAccount
    from loyalty.selectors import soon_expiring
    from marketing.campaign_demo import UPCOMING
    from marketing.models import CampaignSignup
    from portal.demo import DEMO_CHILD, DEMO_NAME, DEMO_PHONE, seed_portal
    from portal.selectors import members_for_phone

    call_command("seed_demo", quiet=True)
    people = members_for_phone(DEMO_PHONE)
    names = [p.name for p in people]
    assert DEMO_NAME in names and DEMO_CHILD in names
    parent = next(p for p in people if p.name == DEMO_NAME)
    assert soon_expiring(PointsAccount.objects.get(member=parent, is_open=True)) > 0
    assert Coupon.objects.filter(member=parent, used_at__isnull=True, voided_at__isnull=True).count() >= 2
    assert Appointment.objects.filter(member=parent, start__gt=timezone.now(), status="booked").exists()
    assert CampaignSignup.objects.filter(member__in=people, campaign__name=UPCOMING).exists()
    from followups.event_surveys import member_event_surveys_pending

    assert member_event_surveys_pending(parent.pk).exists()  # the past member day's, to answer
    before = Coupon.objects.count(), Appointment.objects.count(), CampaignSignup.objects.count()
    seed_portal(branches={b.code: b for b in Branch.objects.all()})
    assert (Coupon.objects.count(), Appointment.objects.count(), CampaignSignup.objects.count()) == before
