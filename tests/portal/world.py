"""The portal's part of the URL-walking tests' worlds (tests/clinic/test_url_access.py and the
browser tests): ids of the world family's own rows for every portal URL argument.

Add an entry when you add a portal URL with an argument (append; do not rename)."""

from __future__ import annotations


def portal_world(family, other_family) -> dict:
    """``objects_by_route``: (route prefix, object) for a ``<pk>``; ``values``: other kwargs."""
    import datetime as dt

    from django.utils import timezone

    from portal.models import LoginCode, WeChatIdentity

    # Rows for the admin pages (read-only tables).
    now = timezone.now()
    LoginCode.objects.create(
        phone=family.phone, code_hash="0" * 64, created_at=now, expires_at=now + dt.timedelta(minutes=5)
    )
    WeChatIdentity.objects.get_or_create(
        app_id="wxmatrix", openid="o-matrix", defaults={"phone": family.phone}
    )
    from loyalty.coupon_models import CouponTemplate, RewardItem
    from loyalty.coupons import coupon_issue

    template = CouponTemplate.objects.filter(is_active=True).order_by("pk").first()
    coupon = coupon_issue(actor=None, template=template, member=family.parent, reason="matrix", system=True)
    reward = RewardItem.objects.filter(is_active=True).order_by("pk").first()
    objects_by_route: list[tuple[str, object]] = [
        ("portal/coupons/", coupon),  # the parent's: another family gets 404
        ("portal/rewards/", reward),
        *booking_world(family),
    ]
    values = {"member_id": family.child.pk}
    return {"objects_by_route": objects_by_route, "values": values}


def portal_url_kwargs(name: str, member_id: int, objects: dict | None = None) -> dict:
    """URL kwargs of a portal URL for the walkers that only need a well-formed URL
    (tests/e2e/test_accessibility.py, tests/clinic/test_bad_input.py): ``member_id`` is a
    person the walker's member session reaches; ``objects`` may hold ids by kwarg name."""
    from django.urls import get_resolver

    objects = objects or {}
    pattern = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "portal")
    short = name.partition(":")[2]
    route = next(p for p in pattern.url_patterns if p.name == short)
    out = {}
    for key in route.pattern.converters:
        out[key] = member_id if key == "member_id" else objects.get(key, objects.get("pk", member_id))
    return out


def booking_world(family) -> list[tuple[str, object]]:
    """The world family's own booking, event sign-up and open surveys (portal/booking_views.py,
    event_views.py): an online booking two days ahead, a sign-up for an event ahead, a survey
    invitation of a checked-out visit, an event survey invitation of an event attended."""
    import datetime as dt

    from django.utils import timezone

    from appointments.models import Visit
    from appointments.services import online
    from clinic.models import ServiceItem
    from followups.models import SurveyInvitation
    from marketing import campaigns
    from marketing.campaign_demo import UPCOMING
    from marketing.models import Campaign
    from members.actors import member_actor

    parent, branch = family.parent, family.parent.branch
    service = ServiceItem.objects.filter(is_active=True).order_by("duration_minutes", "pk").first()
    if not service.bookable_online:
        ServiceItem.objects.filter(pk=service.pk).update(bookable_online=True)
        service.refresh_from_db()
    appointment = None
    for offset in range(2, 10):
        day = timezone.localdate() + dt.timedelta(days=offset)
        slots = online.online_slots(service=service, branch=branch, start_day=day, member=parent)
        if slots:
            appointment = online.member_appointment_book(
                actor=member_actor(parent),
                member=parent,
                branch=branch,
                service=service,
                start=slots[-1].start,
                doctor_id=slots[-1].doctor_id,
            )
            break
    assert appointment is not None, "no free slot for the world family's booking"
    event = Campaign.objects.filter(branch=branch, name=UPCOMING).first()
    assert event is not None, "the demo has no upcoming campaign here"
    campaigns.member_signup_create(actor=member_actor(parent), campaign=event, member=parent)
    visit = (
        Visit.objects.filter(status="checked_out", checked_out_at__isnull=False)
        .exclude(pk__in=SurveyInvitation.objects.values("visit_id"))
        .first()
        or Visit.objects.filter(status="checked_out").first()
    )
    invitation = SurveyInvitation.objects.filter(visit=visit).first()
    if invitation is None:
        invitation = SurveyInvitation.objects.create(
            visit=visit, member=parent, branch=branch, doctor_id=visit.doctor_id, nonce="matrix",
            send_at=timezone.now(),
        )  # fmt: skip
    else:
        SurveyInvitation.objects.filter(pk=invitation.pk).update(member=parent, status="sent")
        invitation.refresh_from_db()
    return [
        ("portal/appointments/", appointment),
        ("portal/events/", event),
        ("portal/surveys/", invitation),
        ("portal/event-surveys/", event_survey_world(family)),
    ]


def event_survey_world(family):
    """The world family's open event survey: the parent checked in at the demo's past member
    day (or a campaign of their branch that is over) and invited."""
    from django.utils import timezone

    from followups.event_surveys import event_survey_invite
    from marketing.campaign_demo import PAST
    from marketing.models import Campaign, CampaignSignup

    parent = family.parent
    campaign = (
        Campaign.objects.filter(branch=parent.branch, name=PAST).first()
        or Campaign.objects.filter(branch=parent.branch, ends_at__lte=timezone.now())
        .order_by("-ends_at")
        .first()
    )
    assert campaign is not None, "the demo has no past campaign here"
    signup, _created = CampaignSignup.objects.update_or_create(
        campaign=campaign,
        member=parent,
        defaults={"status": "attended", "checked_in_at": campaign.starts_at},
    )
    return event_survey_invite(signup=signup)
