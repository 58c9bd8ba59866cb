"""Attribution (docs/marketing.md): each person's first touch (``Attribution``), fixed at
their first consultation or registration and changed afterwards only by staff with
``marketing.change_attribution``; each paid visit's last touch (``VisitTouch``), written when
the visit is checked out and taken back when it is voided. Every change is audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.services import audit_record
from members.models import Member

from .consultation_errors import MarketingError
from .consultation_models import Consultation, VisitTouch
from .consultations import enrolments_sync, local_day, window_days
from .models import Attribution, TouchSource

CHANGE_PERM = "marketing.change_attribution"


def _touch_changes(a: Attribution) -> dict:
    return {
        "channel": a.channel_id,
        "partner": a.partner_id,
        "consultant": a.consultant_id,
        "referrer": a.referrer_id,
        "source": a.source,
    }


@transaction.atomic
def attribution_first_touch(
    *,
    actor,
    member: Member,
    consultation: Consultation | None = None,
    source: str | None = None,
    channel=None,
    partner=None,
    consultant=None,
    referrer=None,
    at: dt.datetime | None = None,
) -> Attribution:
    """The person's first touch, fixed once: an existing one is returned unchanged.

    Which touch is first: a person registered *before* this consultation whose registration
    recorded a channel, consultant or partner keeps the registration as first touch (at the
    registration's time); otherwise the consultation is the first touch with its channel's
    acquisition channel, consultant, partner and referring member."""
    existing = Attribution.objects.select_for_update().filter(member=member).first()
    if existing is not None:
        return existing
    registered_first = (
        consultation is not None
        and member.created_at < consultation.created_at - dt.timedelta(seconds=5)
        and (member.channel_id or member.consultant_id)
    )
    if consultation is not None and not registered_first:
        values = {
            "channel": consultation.channel.acquisition_channel,
            "partner": consultation.partner,
            "consultant": consultation.consultant,
            "referrer": consultation.referrer,
            "consultation": consultation,
            "source": TouchSource.CONSULTATION,
            "fixed_at": consultation.at,
        }
    else:
        values = {
            "channel": channel or member.channel,
            "partner": partner or (consultation.partner if consultation else None),
            "consultant": consultant or member.consultant,
            "referrer": referrer,
            "source": source or TouchSource.REGISTRATION,
            "fixed_at": at or member.created_at,
        }
    a = Attribution.objects.create(member=member, **values)
    audit_record(
        actor=actor,
        action="marketing.attribution.fixed",
        target=member,
        changes=_touch_changes(a) | {"consultation": a.consultation_id},
    )
    return a


def attribution_ensure(*, actor, member: Member) -> Attribution:
    """The person's first touch, made from their registration when they have none yet (a
    person registered without a partner, who never consulted)."""
    existing = Attribution.objects.filter(member=member).first()
    return existing or attribution_first_touch(actor=actor, member=member)


@transaction.atomic
def attribution_change(
    *, actor, member: Member, reason: str, channel=None, partner=None, consultant=None, referrer=None
) -> Attribution:
    """Correct a person's first touch by hand: needs ``marketing.change_attribution`` and a
    reason; ``source`` becomes "changed by staff"; audited with old and new values."""
    if not actor.has_perm(CHANGE_PERM):
        raise MarketingError(_("Your role may not change attribution."), code="forbidden")
    reason = (reason or "").strip()
    if not reason:
        raise MarketingError(_("Give the reason for the change."), field="reason")
    if referrer is not None and referrer.pk == member.pk:
        raise MarketingError(_("A person cannot refer themselves."), field="referrer")
    a = Attribution.objects.select_for_update().filter(member=member).first()
    if a is None:
        a = Attribution(member=member, source=TouchSource.MANUAL, fixed_at=timezone.now())
        before = {}
    else:
        before = _touch_changes(a)
    a.channel, a.partner, a.consultant, a.referrer = channel, partner, consultant, referrer
    a.source = TouchSource.MANUAL
    a.save()
    after = _touch_changes(a)
    audit_record(
        actor=actor,
        action="marketing.attribution.changed",
        target=member,
        changes={k: [before.get(k), v] for k, v in after.items() if before.get(k) != v} | {"reason": reason},
    )
    return a


def last_touch_consultation(member_id: int, at: dt.datetime) -> Consultation | None:
    """The person's latest consultation within the window before ``at``."""
    return (
        Consultation.objects.filter(
            member_id=member_id, at__lte=at, at__gte=at - dt.timedelta(days=window_days())
        )
        .select_related("channel")
        .order_by("-at", "-id")
        .first()
    )


@transaction.atomic
def visit_touch_record(*, visit) -> VisitTouch | None:
    """A paid visit (``visit_completed``): its last touch, once per visit. The consultation it
    points at gains the amount paid as revenue and, when this is its first paid visit, its
    paid (and, if missing, arrival) date. The person's first touch is made from their
    registration if they still have none, and an enrolment since is stamped."""
    at = visit.checked_out_at or timezone.now()
    if VisitTouch.objects.filter(visit=visit).exists():
        return None  # a re-delivered signal
    c = last_touch_consultation(visit.member_id, at)
    amount = Decimal(visit.amount_paid or 0)
    touch = VisitTouch.objects.create(
        visit=visit,
        member_id=visit.member_id,
        consultation=c,
        channel=c.channel if c else None,
        consultant=c.consultant if c else None,
        partner=c.partner if c else None,
        amount=amount,
        at=at,
    )
    if c is not None:
        day = local_day(at)
        Consultation.objects.filter(pk=c.pk).update(revenue=F("revenue") + amount)
        Consultation.objects.filter(pk=c.pk, paid_on__isnull=True).update(paid_on=day)
        Consultation.objects.filter(pk=c.pk, arrived_on__isnull=True).update(
            arrived_on=local_day(visit.opened_at)
        )
        Consultation.objects.filter(pk=c.pk, booked_on__isnull=True).update(
            booked_on=local_day(visit.opened_at)
        )
    member = Member.objects.get(pk=visit.member_id)
    attribution_ensure(actor=None, member=member)
    enrolments_sync(member_ids=[visit.member_id])
    audit_record(
        actor=None,
        action="marketing.visit_touch.recorded",
        target=touch,
        branch=visit.branch,
        changes={"visit": visit.pk, "consultation": c.pk if c else None, "amount": str(amount)},
    )
    return touch


@transaction.atomic
def visit_touch_void(*, visit) -> VisitTouch | None:
    """A voided visit (``visit_voided``): its last touch is marked voided (once) and its
    amount comes off the consultation's revenue; if it was the consultation's only paid visit,
    the paid date goes too (else it becomes the next paid visit's)."""
    now = timezone.now()
    if VisitTouch.objects.filter(visit=visit, voided_at__isnull=True).update(voided_at=now) != 1:
        return None
    touch = VisitTouch.objects.get(visit=visit)
    if touch.consultation_id:
        c = Consultation.objects.select_for_update().get(pk=touch.consultation_id)
        c.revenue = c.revenue - touch.amount
        first = (
            VisitTouch.objects.filter(consultation=c, voided_at__isnull=True)
            .order_by("at")
            .values_list("at", flat=True)
            .first()
        )
        c.paid_on = local_day(first) if first else None
        c.save(update_fields=["revenue", "paid_on"])
    audit_record(
        actor=None,
        action="marketing.visit_touch.voided",
        target=touch,
        branch=visit.branch,
        changes={"visit": visit.pk, "consultation": touch.consultation_id, "amount": str(-touch.amount)},
    )
    return touch
