"""Every write to consultations (咨询): logging one (for an existing person or a lead made on
the spot through ``members``), editing it, its next step, closing it, booking from it in one
step (through ``appointments``), the SMS after it, and the funnel stages that appointments'
signals move on (arrival; paid visits are ``marketing.attribution``).

Each service owns its transaction and writes one audit row; who may do what is checked here
too (``can_edit``), so a view, the admin and a test cannot bypass it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from clinic.errors import DomainError
from clinic.models import Branch, ServiceItem
from clinic.money import to_money
from clinic.services import audit_record
from members.models import Member, MemberStatus, Stage

from .consultation_errors import MarketingError
from .consultation_models import (
    OUTCOMES_WITH_REASON,
    ArrivalNotice,
    Consultation,
    ConsultationChannel,
    Outcome,
)

ADD_PERM = "marketing.add_consultation"
CHANGE_PERM = "marketing.change_consultation"
VIEW_PERM = "marketing.view_consultation"
MANAGE_PERM = "marketing.manage_consultations"
FUNNEL_PERM = "marketing.view_funnel"

EDITABLE = (
    "channel",
    "question",
    "quote",
    "outcome",
    "outcome_reason",
    "next_step",
    "next_step_due",
    "partner",
    "referrer",
)


def window_days() -> int:
    """How long after a consultation a booking, arrival or paid visit still counts as its
    result (docs/marketing.md)."""
    return int(getattr(settings, "MARKETING_ATTRIBUTION_DAYS", 90))


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def can_edit(user, consultation: Consultation) -> bool:
    """A consultant edits their own consultations; ``manage_consultations`` every one in scope."""
    if user.has_perm(MANAGE_PERM):
        return True
    return user.has_perm(CHANGE_PERM) and consultation.consultant_id == user.pk


def _check_fields(*, outcome: str, outcome_reason: str, next_step: str, next_step_due, quote) -> None:
    if outcome not in Outcome.values:
        raise MarketingError(_("Choose the outcome."), field="outcome")
    if outcome in OUTCOMES_WITH_REASON and not (outcome_reason or "").strip():
        raise MarketingError(_("Say why (the outcome needs a reason)."), field="outcome_reason")
    if next_step_due and not (next_step or "").strip():
        raise MarketingError(_("Say what the next step is."), field="next_step")
    if (next_step or "").strip() and not next_step_due:
        raise MarketingError(_("Give the next step a due date."), field="next_step_due")
    if quote is not None and to_money(quote) < 0:
        raise MarketingError(_("A quote cannot be negative."), field="quote")


def _snapshot(c: Consultation) -> dict[str, Any]:
    return {
        "channel": c.channel.code if c.channel_id else None,
        "question": c.question,
        "quote": str(c.quote) if c.quote is not None else None,
        "outcome": c.outcome,
        "outcome_reason": c.outcome_reason,
        "next_step": c.next_step,
        "next_step_due": c.next_step_due,
        "partner": c.partner_id,
        "referrer": c.referrer_id,
    }


@transaction.atomic
def consultation_log(
    *,
    actor,
    branch: Branch,
    channel: ConsultationChannel,
    member: Member | None = None,
    lead_name: str = "",
    lead_phone: str = "",
    allow_duplicate: bool = False,
    consultant=None,
    question: str = "",
    services: Iterable[ServiceItem] = (),
    quote: Decimal | None = None,
    outcome: str = Outcome.CONSIDERING,
    outcome_reason: str = "",
    next_step: str = "",
    next_step_due: dt.date | None = None,
    partner=None,
    referrer: Member | None = None,
    at: dt.datetime | None = None,
) -> Consultation:
    """Log an enquiry. Without ``member``, the caller becomes a lead registered through
    ``members.member_register`` (the same phone-and-name duplicate check as registration:
    ``code="duplicate"`` unless ``allow_duplicate``). The consultant is the actor unless one
    with ``manage_consultations`` logs it for another. Fixes the person's first touch when
    they have none (``marketing.attribution``). Audited."""
    from members.services import member_register

    from .attribution import attribution_first_touch

    if not actor.has_perm(ADD_PERM):
        raise MarketingError(_("Your role may not log consultations."), code="forbidden")
    consultant = consultant or actor
    if consultant.pk != actor.pk and not actor.has_perm(MANAGE_PERM):
        raise MarketingError(
            _("You may log only your own consultations."), code="forbidden", field="consultant"
        )
    if not channel.is_active:
        raise MarketingError(_("This channel is no longer in use."), field="channel")
    _check_fields(
        outcome=outcome,
        outcome_reason=outcome_reason,
        next_step=next_step,
        next_step_due=next_step_due,
        quote=quote,
    )
    at = at or timezone.now()
    if next_step_due and next_step_due < local_day(at):
        raise MarketingError(_("The next step cannot be due before the consultation."), field="next_step_due")
    if member is None:
        if not (lead_name or "").strip():
            raise MarketingError(
                _("Choose a person, or enter a new caller's name and phone."), field="member"
            )
        try:
            member = member_register(
                actor=actor,
                branch=branch,
                name=lead_name,
                phone=lead_phone,
                stage=Stage.LEAD,
                channel=channel.acquisition_channel,
                consultant=consultant,
                allow_duplicate=allow_duplicate,
            )
        except DomainError as exc:
            field = {"phone": "lead_phone", "name": "lead_name"}.get(exc.field or "", exc.field)
            raise MarketingError(exc.message, code=exc.code, field=field) from exc
    if member.status != MemberStatus.ACTIVE:
        raise MarketingError(_("This person's record is closed."), field="member")
    c = Consultation.objects.create(
        branch=branch,
        member=member,
        channel=channel,
        consultant=consultant,
        at=at,
        on=local_day(at),
        question=(question or "").strip(),
        quote=to_money(quote) if quote is not None else None,
        outcome=outcome,
        outcome_reason=(outcome_reason or "").strip()[:200],
        next_step=(next_step or "").strip()[:200],
        next_step_due=next_step_due,
        partner=partner,
        referrer=referrer,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    services = list(services)
    if services:
        c.services.set(services)
    attribution_first_touch(actor=actor, member=member, consultation=c)
    audit_record(
        actor=actor,
        action="marketing.consultation.logged",
        target=c,
        changes={
            "member": member.pk,
            "consultant": consultant.pk,
            **_snapshot(c),
            "services": [s.code for s in services],
        },
    )
    return c


def _lock(consultation: Consultation) -> Consultation:
    return (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("member", "branch", "channel", "appointment")
        .get(pk=consultation.pk)
    )


def _require_edit(actor, c: Consultation) -> None:
    if not can_edit(actor, c):
        raise MarketingError(
            _("Only the consultant or a manager may change this consultation."), code="forbidden"
        )


@transaction.atomic
def consultation_update(
    *, actor, consultation: Consultation, services: Iterable[ServiceItem] | None = None, **fields: Any
) -> Consultation:
    """Change what was asked, quoted and agreed (``EDITABLE``). Audited with old and new."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    c = _lock(consultation)
    _require_edit(actor, c)
    before = _snapshot(c)
    old_services = sorted(c.services.values_list("code", flat=True))
    for name, value in fields.items():
        if name in ("question", "outcome_reason", "next_step") and value is not None:
            value = value.strip()
        if name == "quote" and value is not None:
            value = to_money(value)
        setattr(c, name, value)
    if "channel" in fields and not c.channel.is_active and before["channel"] != c.channel.code:
        raise MarketingError(_("This channel is no longer in use."), field="channel")
    _check_fields(
        outcome=c.outcome,
        outcome_reason=c.outcome_reason,
        next_step=c.next_step,
        next_step_due=c.next_step_due,
        quote=c.quote,
    )
    if "next_step_due" in fields and before["next_step_due"] != c.next_step_due:
        c.next_step_done_at = None  # a new due date is a new step
    c.updated_at = timezone.now()
    c.save()
    changes = {k: [before[k], v] for k, v in _snapshot(c).items() if before[k] != v}
    if services is not None:
        services = list(services)
        c.services.set(services)
        new_services = sorted(s.code for s in services)
        if new_services != old_services:
            changes["services"] = [old_services, new_services]
    if changes:
        audit_record(actor=actor, action="marketing.consultation.updated", target=c, changes=changes)
    return c


@transaction.atomic
def consultation_step_done(*, actor, consultation: Consultation) -> Consultation:
    """The next step is done: it leaves the consultant's to-do list."""
    c = _lock(consultation)
    _require_edit(actor, c)
    if not c.is_open_step:
        raise MarketingError(_("There is no open next step."), code="state")
    c.next_step_done_at = timezone.now()
    c.save(update_fields=["next_step_done_at"])
    audit_record(
        actor=actor,
        action="marketing.consultation.step_done",
        target=c,
        changes={"next_step": c.next_step, "due": c.next_step_due},
    )
    return c


@transaction.atomic
def consultation_close(*, actor, consultation: Consultation, outcome: str, reason: str = "") -> Consultation:
    """Record the final outcome; an open next step is closed with it."""
    c = _lock(consultation)
    _require_edit(actor, c)
    _check_fields(outcome=outcome, outcome_reason=reason, next_step="", next_step_due=None, quote=None)
    old = c.outcome
    now = timezone.now()
    c.outcome, c.outcome_reason = outcome, (reason or "").strip()[:200]
    if c.is_open_step:
        c.next_step_done_at = now
    c.closed_at = now
    c.save(update_fields=["outcome", "outcome_reason", "next_step_done_at", "closed_at"])
    audit_record(
        actor=actor,
        action="marketing.consultation.closed",
        target=c,
        changes={"outcome": [old, outcome], "reason": c.outcome_reason},
    )
    return c


@transaction.atomic
def consultation_book(*, actor, consultation: Consultation, branch: Branch, **booking: Any):
    """Book the consulted person in one step (``appointments.appointment_book`` with the
    person prefilled and the rest of ``booking``: service, doctor, start, channel …). The
    consultation keeps the booking and its outcome becomes 预约成功. A refusal of the
    booking (a clash, off shift) is the appointments error, and nothing is saved."""
    from appointments.services import appointment_book

    c = _lock(consultation)
    _require_edit(actor, c)
    if c.appointment_id and c.appointment.is_active and c.appointment.status != "completed":
        raise MarketingError(_("This consultation already led to a booking."), code="state")
    appt = appointment_book(actor=actor, branch=branch, member=c.member, **booking)
    old = c.outcome
    c.appointment = appt
    c.booked_on = c.booked_on or local_day(appt.created_at or timezone.now())
    c.outcome, c.outcome_reason = Outcome.BOOKED, ""
    if c.is_open_step:
        c.next_step_done_at = timezone.now()
    c.save(update_fields=["appointment", "booked_on", "outcome", "outcome_reason", "next_step_done_at"])
    audit_record(
        actor=actor,
        action="marketing.consultation.booked",
        target=c,
        changes={"appointment": appt.pk, "outcome": [old, c.outcome]},
    )
    return appt


def sms_kind(consultation: Consultation) -> str:
    """Which message the SMS after a consultation is: the booking (time and address) when it
    led to one still ahead, else the address only."""
    appt = consultation.appointment
    if appt is not None and appt.status in ("booked", "confirmed") and appt.start > timezone.now():
        return "booked"
    return "address"


@transaction.atomic
def consultation_sms(*, actor, consultation: Consultation):
    """Queue the SMS after a consultation through the outbox (``members.member_notify``).

    A booking confirmation is a service message (the person's opt-out applies); the
    address alone, sent to someone who has not booked, is a marketing message and needs
    their SMS marketing consent. Sent once per booking (or once for the address): the
    outbox's dedupe key refuses a second one."""
    from clinic.notifications.models import Outbox, Purpose
    from members.notify import member_notify

    c = _lock(consultation)
    _require_edit(actor, c)
    kind = sms_kind(c)
    branch = c.branch
    params = {
        "name": c.member.name,
        "branch": branch.name,
        "address": branch.address,
        "phone": branch.phone,
    }
    if kind == "booked":
        appt = c.appointment
        params.update(
            start=formats.date_format(timezone.localtime(appt.start), "Y-m-d H:i"),
            service=appt.service.name,
        )
        key = f"consultation:{c.pk}:sms:appt:{appt.pk}:{int(appt.start.timestamp())}"
    else:
        key = f"consultation:{c.pk}:sms:address"
    if Outbox.objects.filter(dedupe_key=key).exists():
        raise MarketingError(_("This message was already sent."), code="duplicate")
    try:
        row = member_notify(
            member=c.member,
            template_key=f"marketing.consultation_{kind}",
            params=params,
            purpose=Purpose.SERVICE if kind == "booked" else Purpose.MARKETING,
            actor=actor,
            dedupe_key=key,
        )
    except DomainError as exc:
        raise MarketingError(exc.message, code=exc.code) from exc
    audit_record(
        actor=actor,
        action="marketing.consultation.sms_queued",
        target=c,
        changes={"kind": kind, "outbox": row.pk},
    )
    return row


# --- funnel stages moved by appointments' signals -------------------------------------------


def consultation_for_arrival(appt) -> Consultation | None:
    """The consultation an arrival belongs to: the one that booked it, else the person's
    latest consultation in the window before the arrival that has not arrived yet."""
    linked = Consultation.objects.filter(appointment=appt).order_by("-at").first()
    if linked is not None:
        return linked
    when = appt.arrived_at or timezone.now()
    return (
        Consultation.objects.filter(
            member_id=appt.member_id,
            at__lte=when,
            at__gte=when - dt.timedelta(days=window_days()),
            arrived_on__isnull=True,
        )
        .order_by("-at")
        .first()
    )


@transaction.atomic
def consultation_arrival_record(*, appointment) -> Consultation | None:
    """An arrival (``appointment_arrived``): stamp the consultation's arrival (and its booking,
    when the person was booked some other way), and tell its consultant in-app. Idempotent:
    the same arrival notifies once."""
    c = consultation_for_arrival(appointment)
    if c is None:
        return None
    c = _lock(c)
    fields = []
    if c.appointment_id is None:
        c.appointment = appointment
        fields.append("appointment")
    if c.booked_on is None:
        c.booked_on = local_day(appointment.created_at or timezone.now())
        fields.append("booked_on")
    if c.arrived_on is None:
        c.arrived_on = local_day(appointment.arrived_at or timezone.now())
        fields.append("arrived_on")
    if fields:
        c.save(update_fields=fields)
    if c.consultant.is_active:
        ArrivalNotice.objects.get_or_create(
            consultant=c.consultant, appointment=appointment, defaults={"consultation": c}
        )
    return c


@transaction.atomic
def arrival_notices_seen(*, actor) -> int:
    """The consultant has read their arrival notices."""
    return ArrivalNotice.objects.filter(consultant=actor, seen_at__isnull=True).update(seen_at=timezone.now())


def enrolments_sync(*, member_ids: Iterable[int] | None = None, since: dt.datetime | None = None) -> int:
    """Stamp ``enrolled_on`` on the consultation each enrolment (办卡) belongs to: the
    person's latest consultation in the window before it. Set-based and idempotent; run after
    each checkout for its person and hourly for all (enrolment has no signal)."""
    from django.db import connection

    params: list[Any] = [settings.TIME_ZONE, window_days()]
    where = ""
    if member_ids is not None:
        ids = list(member_ids)
        if not ids:
            return 0
        where += " AND m.member_id = ANY(%s)"
        params.append(ids)
    if since is not None:
        where += " AND m.enrolled_at >= %s"
        params.append(since)
    sql = f"""
        UPDATE marketing_consultation c
           SET enrolled_on = (m.enrolled_at AT TIME ZONE %s)::date
          FROM loyalty_membership m
         WHERE c.enrolled_on IS NULL
           AND c.id = (
                SELECT c2.id FROM marketing_consultation c2
                 WHERE c2.member_id = m.member_id
                   AND c2.at <= m.enrolled_at
                   AND c2.at > m.enrolled_at - make_interval(days => %s)
                 ORDER BY c2.at DESC, c2.id DESC LIMIT 1)
           {where}
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def open_steps(user, *, until: dt.date | None = None):
    """The user's to-do list: open next steps due by ``until`` (default: today), oldest first."""
    until = until or timezone.localdate()
    return (
        Consultation.objects.filter(
            consultant=user,
            next_step_done_at__isnull=True,
            next_step_due__isnull=False,
            next_step_due__lte=until,
        )
        .select_related("member", "channel")
        .order_by("next_step_due", "at")
    )


__all__ = [
    "arrival_notices_seen",
    "can_edit",
    "consultation_arrival_record",
    "consultation_book",
    "consultation_close",
    "consultation_log",
    "consultation_sms",
    "consultation_step_done",
    "consultation_update",
    "enrolments_sync",
    "open_steps",
]
