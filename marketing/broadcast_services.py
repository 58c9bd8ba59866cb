"""Writes of broadcasts: create (with its message template), fix the audience (the waterfall),
approve, send, cancel. Every one owns its transaction and writes one audit row
(``marketing.broadcast.created / audience_fixed / approved / queued / cancelled``).

Set-based throughout: the audience is one INSERT … SELECT over the segment's statement, and
sending is one INSERT … SELECT into the outbox (``clinic.notifications.services.
enqueue_select``) with ``ON CONFLICT (dedupe_key) DO NOTHING`` on the key
``broadcast:<id>:<member>``, so sending again (a double click, two workers, a retry after a
crash) queues nobody twice.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch
from clinic.notifications import contact_cap
from clinic.notifications.models import Channel, MessageTemplate, OptOut, Outbox
from clinic.notifications.rendering import variables
from clinic.notifications.services import enqueue_select
from clinic.selectors import user_branch_ids
from clinic.services import audit_record
from members.models import Consent, Member

from .broadcast_models import (
    Broadcast,
    BroadcastRecipient,
    BroadcastSettings,
    BroadcastStatus,
    RecipientOutcome,
)
from .errors import MarketingError
from .segment_models import Quadrant, Segment
from .segment_selectors import CONSENT_KIND, Scope, segment_sql

# The variables a broadcast's text may use, filled per person when it is queued.
VARIABLES = ("name", "branch")
SMS_SINGLE = 70  # one SMS holds 70 Chinese characters …
SMS_PART = 67  # … a longer one is sent in parts of 67 (the rest is the joining header)
SMS_MAX = 500
WATERFALL_STEPS = [
    RecipientOutcome.NO_CONSENT,
    RecipientOutcome.OPTED_OUT,
    RecipientOutcome.NO_ADDRESS,
    RecipientOutcome.OVER_CAP,
]
ADDRESS = {Channel.SMS: "m.phone", Channel.WECHAT: "m.wechat_id", Channel.EMAIL: "m.email"}


def settings_row() -> BroadcastSettings:
    return BroadcastSettings.objects.filter(pk=1).first() or BroadcastSettings(pk=1)


def sms_parts(text: str) -> int:
    """How many SMS segments ``text`` costs: 1 up to 70 characters, else one per 67."""
    n = len(text or "")
    if n == 0:
        return 0
    return 1 if n <= SMS_SINGLE else math.ceil(n / SMS_PART)


def cost_estimate(text: str, people: int) -> Decimal:
    return (settings_row().sms_price * sms_parts(text) * people).quantize(Decimal("0.01"))


def _check_text(*, channel: str, body: str, subject: str) -> tuple[str, str]:
    body = (body or "").strip()
    subject = (subject or "").strip()
    if channel not in Channel.values:
        raise MarketingError(_("Choose a channel."), field="channel")
    if not body:
        raise MarketingError(_("Write the message."), field="body")
    unknown = [v for v in variables(body) + variables(subject) if v not in VARIABLES]
    if unknown:
        raise MarketingError(
            _("Unknown variable: %(names)s. Use {name} or {branch}.") % {"names": ", ".join(unknown)},
            field="body",
        )
    if channel == Channel.SMS and len(body) > SMS_MAX:
        raise MarketingError(_("An SMS may have at most %(n)s characters.") % {"n": SMS_MAX}, field="body")
    if channel == Channel.EMAIL and not subject:
        raise MarketingError(_("An e-mail needs a subject."), field="subject")
    return body, subject


def _audience_sql(broadcast: Broadcast) -> tuple[str, list]:
    cap = contact_cap.policy()
    address = ADDRESS[broadcast.channel]
    seg_sql, seg_params = segment_sql(
        broadcast.segment.filters, scope=Scope(frozenset({broadcast.branch_id})), with_quadrant=True
    )
    rec = BroadcastRecipient._meta.db_table
    member, consent = Member._meta.db_table, Consent._meta.db_table
    sql = f"""
INSERT INTO {rec} (broadcast_id, member_id, quadrant, outcome, recipient, consent_id, consent_granted_at,
                   marketing_opt_out, contacts_in_window)
SELECT %s, m.id, seg.quadrant,
       CASE WHEN c.id IS NULL THEN 'no_consent'
            WHEN m.marketing_opt_out OR oo.id IS NOT NULL THEN 'opted_out'
            WHEN {address} = '' THEN 'no_address'
            WHEN %s AND cap.n >= %s THEN 'over_cap'
            ELSE 'included' END,
       {address}, c.id, c.granted_at, m.marketing_opt_out, LEAST(cap.n, 32767)
  FROM ({seg_sql}) seg
  JOIN {member} m ON m.id = seg.id
  LEFT JOIN {consent} c ON c.member_id = m.id AND c.kind = %s AND c.withdrawn_at IS NULL
  LEFT JOIN {OptOut._meta.db_table} oo ON oo.channel = %s AND oo.recipient = {address} AND {address} <> ''
  CROSS JOIN LATERAL (SELECT count(*) AS n FROM {Outbox._meta.db_table} o
                       WHERE o.person_key = 'member:' || m.id AND {contact_cap.COUNTED_SQL}) cap
"""
    params = [
        broadcast.pk,
        cap.is_active,
        cap.limit,
        *seg_params,
        CONSENT_KIND[broadcast.channel],
        broadcast.channel,
        contact_cap.window_start(cap),
        sorted(contact_cap.capped_templates()),
    ]
    return sql, params


def _waterfall(broadcast: Broadcast) -> dict:
    """Counts of every step, each with its quadrant breakdown, from the stored audience."""
    cells = Counter()
    rows = (
        BroadcastRecipient.objects.filter(broadcast=broadcast)
        .values_list("outcome", "quadrant")
        .order_by()
        .annotate(n=Count("id"))
    )
    for outcome, quadrant, n in rows:
        cells[(outcome, quadrant)] = n

    def by_quadrant(outcomes) -> dict[str, int]:
        return {q: sum(cells[(o, q)] for o in outcomes) for q in Quadrant.values}

    remaining = set(RecipientOutcome.values)
    total = by_quadrant(remaining)
    steps = []
    for step in WATERFALL_STEPS:
        removed = by_quadrant([step])
        remaining.discard(step)
        left = by_quadrant(remaining)
        steps.append(
            {
                "code": step,
                "removed": sum(removed.values()),
                "removed_quadrants": removed,
                "remaining": sum(left.values()),
                "remaining_quadrants": left,
            }
        )
    return {"segment": sum(total.values()), "segment_quadrants": total, "steps": steps}


def _fix_audience(*, actor, broadcast: Broadcast) -> Broadcast:
    BroadcastRecipient.objects.filter(broadcast=broadcast).delete()
    sql, params = _audience_sql(broadcast)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    waterfall = _waterfall(broadcast)
    count = waterfall["steps"][-1]["remaining"]
    broadcast.waterfall = waterfall
    broadcast.audience_count = count
    broadcast.audience_at = timezone.now()
    broadcast.approved_by, broadcast.approved_at = None, None
    needs = count > settings_row().approval_threshold
    broadcast.status = BroadcastStatus.AWAITING_APPROVAL if needs else BroadcastStatus.READY
    broadcast.save(
        update_fields=["waterfall", "audience_count", "audience_at", "approved_by", "approved_at", "status"]
    )
    audit_record(
        actor=actor,
        action="marketing.broadcast.audience_fixed",
        target=broadcast,
        branch=broadcast.branch,
        changes={
            "segment": waterfall["segment"],
            "audience": count,
            "steps": {s["code"]: s["removed"] for s in waterfall["steps"]},
            "needs_approval": needs,
        },
    )
    return broadcast


@transaction.atomic
def broadcast_create(
    *,
    actor,
    segment: Segment,
    channel: str,
    name: str,
    body: str,
    subject: str = "",
    branch: Branch | None = None,
    not_before: dt.datetime | None = None,
) -> Broadcast:
    """A broadcast of ``body`` to ``segment`` on ``channel``, with its audience fixed at once
    (see ``broadcast_refresh``). Its message template (``broadcast.<id>``) is created here."""
    name = " ".join((name or "").split())
    if not name:
        raise MarketingError(_("Give the broadcast a name."), field="name")
    body, subject = _check_text(channel=channel, body=body, subject=subject)
    branch = branch or segment.branch
    ids = user_branch_ids(actor) if actor is not None else None  # None: the system (seed, jobs)
    if branch is None:
        raise MarketingError(_("Choose the branch of the broadcast."), field="branch")
    if ids is not None and branch.pk not in ids:
        raise MarketingError(_("You do not work at this branch."), field="branch")
    if segment.branch_id not in (None, branch.pk):
        raise MarketingError(_("The segment belongs to another branch."), field="segment")
    broadcast = Broadcast.objects.create(
        name=name,
        branch=branch,
        segment=segment,
        channel=channel,
        subject=subject,
        body=body,
        not_before=not_before,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    MessageTemplate.objects.create(
        key=broadcast.template_key,
        channel=channel,
        language="zh-hans",
        name=name[:100],
        subject=subject,
        body=body,
    )
    audit_record(
        actor=actor,
        action="marketing.broadcast.created",
        target=broadcast,
        branch=branch,
        changes={"segment": segment.pk, "channel": channel, "name": name},
    )
    return _fix_audience(actor=actor, broadcast=broadcast)


def _lock(broadcast: Broadcast) -> Broadcast:
    return Broadcast.objects.select_for_update().select_related("segment").get(pk=broadcast.pk)


@transaction.atomic
def broadcast_refresh(*, actor, broadcast: Broadcast) -> Broadcast:
    """Fix the audience again from the segment as it is now (before sending only). A given
    approval lapses: the manager approves a list, not a segment."""
    broadcast = _lock(broadcast)
    if broadcast.status not in (
        BroadcastStatus.DRAFT,
        BroadcastStatus.AWAITING_APPROVAL,
        BroadcastStatus.READY,
    ):
        raise MarketingError(_("This broadcast was already sent or cancelled."))
    return _fix_audience(actor=actor, broadcast=broadcast)


@transaction.atomic
def broadcast_approve(*, actor, broadcast: Broadcast) -> Broadcast:
    """A manager approves a large audience; not the person who made the broadcast."""
    if not actor.has_perm("marketing.approve_broadcast"):
        raise MarketingError(_("Only a branch manager may approve a broadcast."), code="forbidden")
    broadcast = _lock(broadcast)
    if broadcast.status != BroadcastStatus.AWAITING_APPROVAL:
        raise MarketingError(_("This broadcast is not waiting for approval."))
    if broadcast.created_by_id == actor.pk:
        raise MarketingError(_("Someone other than its author must approve a broadcast."))
    broadcast.status = BroadcastStatus.READY
    broadcast.approved_by, broadcast.approved_at = actor, timezone.now()
    broadcast.save(update_fields=["status", "approved_by", "approved_at"])
    audit_record(
        actor=actor,
        action="marketing.broadcast.approved",
        target=broadcast,
        branch=broadcast.branch,
        changes={"audience": broadcast.audience_count},
    )
    return broadcast


def _enqueue_sql(broadcast: Broadcast) -> tuple[str, list]:
    rec = BroadcastRecipient._meta.db_table
    sql = f"""
SELECT 'broadcast:' || r.broadcast_id || ':' || r.member_id AS dedupe_key,
       %s::varchar AS channel, r.recipient, %s::varchar AS template_key, m.language,
       jsonb_build_object('name', m.name,
                          'branch', CASE WHEN m.language LIKE 'en%%' AND b.name_en <> '' THEN b.name_en
                                         ELSE b.name END) AS params,
       'marketing'::varchar AS purpose, r.consent_id::text AS consent_ref,
       'member:' || r.member_id AS person_key, m.branch_id, %s::timestamptz AS not_before
  FROM {rec} r
  JOIN members_member m ON m.id = r.member_id
  JOIN {Branch._meta.db_table} b ON b.id = m.branch_id
  JOIN members_consent c ON c.id = r.consent_id AND c.withdrawn_at IS NULL
 WHERE r.broadcast_id = %s AND r.outcome = 'included' AND m.status = 'active' AND NOT m.marketing_opt_out
"""
    return sql, [broadcast.channel, broadcast.template_key, broadcast.not_before, broadcast.pk]


def broadcast_send(*, actor, broadcast: Broadcast) -> int:
    """Queue the audience (the included people whose consent still holds) into the outbox in
    one statement; returns how many rows this call queued. May run again or twice at once:
    the outbox's dedupe key queues each person once. The sender then keeps quiet hours (held
    to the morning) and each channel's rate limit."""
    with transaction.atomic():
        locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if locked.status not in (BroadcastStatus.READY, BroadcastStatus.QUEUED):
            if locked.status == BroadcastStatus.AWAITING_APPROVAL:
                raise MarketingError(_("A manager must approve this broadcast first."), code="needs_approval")
            raise MarketingError(_("This broadcast cannot be sent now."))
    # The row lock is released before the INSERT, so a second start runs its INSERT at the
    # same time as the first: the unique dedupe key, not the lock, keeps it to one each.
    with transaction.atomic():
        sql, params = _enqueue_sql(locked)
        inserted = enqueue_select(select_sql=sql, params=params, actor=actor)
        queued = _queued_count(locked)
        Broadcast.objects.filter(pk=locked.pk).update(
            status=BroadcastStatus.QUEUED, queued_count=queued, queued_at=locked.queued_at or timezone.now()
        )
        audit_record(
            actor=actor,
            action="marketing.broadcast.queued",
            target=locked,
            branch=locked.branch,
            changes={"inserted": inserted, "queued": queued, "audience": locked.audience_count},
        )
    return inserted


def _queued_count(broadcast: Broadcast) -> int:
    rec = BroadcastRecipient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {rec} r JOIN {Outbox._meta.db_table} o"
            " ON o.dedupe_key = 'broadcast:' || r.broadcast_id || ':' || r.member_id"
            " WHERE r.broadcast_id = %s AND r.outcome = 'included'",
            [broadcast.pk],
        )
        return cursor.fetchone()[0]


@transaction.atomic
def broadcast_cancel(*, actor, broadcast: Broadcast) -> Broadcast:
    broadcast = _lock(broadcast)
    if broadcast.status in (BroadcastStatus.QUEUED, BroadcastStatus.CANCELLED):
        raise MarketingError(_("This broadcast was already sent or cancelled."))
    old = broadcast.status
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.save(update_fields=["status"])
    MessageTemplate.objects.filter(key=broadcast.template_key).update(is_active=False)
    audit_record(
        actor=actor,
        action="marketing.broadcast.cancelled",
        target=broadcast,
        branch=broadcast.branch,
        changes={"status": [old, broadcast.status]},
    )
    return broadcast
