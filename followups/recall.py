"""Recall (复诊/洁牙提醒) tied to loyalty: every write on ``Recall`` and ``RecallKeep``.

- A checked-out visit with a trigger service resets the person's recall of that type:
  ``due_on = visit day + interval`` (``recall_on_visit``, from ``visit_completed``; the nightly
  ``recalls_sync`` makes the recalls of visits it has not seen, set-based).
- A visit inside the type's window around ``due_on`` keeps the recall on time: a
  ``RecallKeep`` row, the recall bonus through loyalty's ledger (key
  ``recall:<recall>:<due_on>``, once) and a keep credit at the tier anniversary review.
- A due date set by hand (``recall_set_due``, audited) stays until a visit keeps the recall.
- Reminders (due −N days and on the due date, by the person's channel) and, a week after
  the due date without a booking, a phone task; all silent while a future booking exists.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from appointments.models import Appointment, ChargeLine, Status, Visit, VisitStatus
from clinic.models import AuditLog, ServiceItem
from clinic.services import audit_record
from loyalty.models import BonusKind, PointsAccount
from loyalty.services.ledger import add_months
from members.models import Member, MemberStatus

from .errors import FollowupError
from .models import Recall, RecallKeep, RecallType, Task, TaskKind, TaskStatus
from .recall_notify import care_notify

log = logging.getLogger(__name__)

SET_DUE_PERMISSION = "followups.set_recall_due"
FUTURE_BOOKING_STATUSES = (Status.BOOKED, Status.CONFIRMED)


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def bonus_key(recall_id: int, due_on: dt.date) -> str:
    return f"recall:{recall_id}:{due_on.isoformat()}"


# --- which types a visit triggers ----------------------------------------------------------


def trigger_items() -> dict[int, set[int]]:
    """Active recall type id → the service item ids that reset it (direct or by category)."""
    pairs: dict[int, set[int]] = {}
    for rt in RecallType.objects.filter(is_active=True).prefetch_related(
        "trigger_services", "trigger_categories"
    ):
        items = {s.pk for s in rt.trigger_services.all()}
        cats = [c.pk for c in rt.trigger_categories.all()]
        if cats:
            items |= set(ServiceItem.objects.filter(category_id__in=cats).values_list("pk", flat=True))
        if items:
            pairs[rt.pk] = items
    return pairs


def _age_on(member: Member, day: dt.date) -> int | None:
    b = member.birth_date
    if not b:
        return None
    return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


def types_for_visit(visit: Visit) -> list[RecallType]:
    items = set(ChargeLine.objects.filter(visit=visit).values_list("item_id", flat=True))
    if not items:
        return []
    by_type = trigger_items()
    ids = [type_id for type_id, trig in by_type.items() if trig & items]
    day = local_day(visit.checked_out_at or visit.opened_at)
    age = _age_on(visit.member, day)
    return [
        rt
        for rt in RecallType.objects.filter(pk__in=ids).order_by("sort_order", "code")
        if rt.max_age is None or age is None or age <= rt.max_age
    ]


def keep_window(rt: RecallType, due_on: dt.date) -> tuple[dt.date, dt.date]:
    return due_on - dt.timedelta(days=rt.window_before_days), due_on + dt.timedelta(days=rt.window_after_days)


# --- a visit resets, keeps ------------------------------------------------------------------


@transaction.atomic
def recall_on_visit(*, actor, visit: Visit) -> list[Recall]:
    """Apply one checked-out visit to the person's recalls of every type it triggers.
    Idempotent: a visit the recall already counted (not newer than ``last_visit_on``, or the
    same visit) changes nothing."""
    visit = Visit.objects.select_related("member").get(pk=visit.pk)
    if visit.status != VisitStatus.CHECKED_OUT:
        return []
    day = local_day(visit.checked_out_at or visit.opened_at)
    changed = []
    for rt in types_for_visit(visit):
        recall = Recall.objects.select_for_update().filter(member=visit.member, recall_type=rt).first()
        if recall is None:
            recall = Recall.objects.create(
                member=visit.member,
                recall_type=rt,
                branch_id=visit.branch_id,
                last_visit=visit,
                last_visit_on=day,
                due_on=add_months(day, rt.interval_months),
            )
            audit_record(
                actor=actor,
                action="followups.recall.created",
                target=recall,
                changes={"type": rt.code, "due_on": recall.due_on, "visit": visit.pk},
            )
            changed.append(recall)
            continue
        if recall.last_visit_id == visit.pk or (recall.last_visit_on and day < recall.last_visit_on):
            continue
        changed.append(_apply_visit(actor, recall, visit, day))
    return changed


def _apply_visit(actor, recall: Recall, visit: Visit, day: dt.date) -> Recall:
    rt = recall.recall_type
    opens, closes = keep_window(rt, recall.due_on)
    old_due = recall.due_on
    kept = None
    if day >= opens and recall.is_active:
        kept = _keep(actor, recall, visit, day, on_time=day <= closes)
    recall.last_visit, recall.last_visit_on, recall.branch_id = visit, day, visit.branch_id
    if kept is not None or not recall.manual:
        recall.due_on = add_months(day, rt.interval_months)
        recall.manual, recall.manual_reason = False, ""
    recall.is_active = True
    recall.updated_at = timezone.now()
    recall.save()
    _close_call_tasks(actor, recall, old_due)
    audit_record(
        actor=actor,
        action="followups.recall.visited",
        target=recall,
        changes={
            "due_on": [old_due, recall.due_on],
            "visit": visit.pk,
            "kept": None if kept is None else ("on_time" if kept.on_time else "late"),
        },
    )
    return recall


def _keep(actor, recall: Recall, visit: Visit, day: dt.date, *, on_time: bool) -> RecallKeep:
    keep, created = RecallKeep.objects.get_or_create(
        recall=recall,
        due_on=recall.due_on,
        defaults={"member_id": recall.member_id, "visit": visit, "kept_on": day, "on_time": on_time},
    )
    if not created or not on_time:
        return keep
    if PointsAccount.objects.filter(member_id=recall.member_id, is_open=True).exists():
        from loyalty.services import points_bonus_award

        entry = points_bonus_award(
            actor=actor,
            member=recall.member,
            kind=BonusKind.RECALL,
            idempotency_key=bonus_key(recall.pk, recall.due_on),
            source_key=f"visit:{visit.pk}",
        )
        if entry is not None:
            keep.points = entry.points
            keep.save(update_fields=["points"])
    audit_record(
        actor=actor,
        action="followups.recall.kept",
        target=recall,
        changes={"due_on": recall.due_on, "kept_on": day, "points": keep.points},
    )
    return keep


def _close_call_tasks(actor, recall: Recall, due_on: dt.date) -> None:
    """The person came: the recall's open phone task has nothing left to do."""
    key = f"recall:{recall.pk}:{due_on.isoformat()}:call"
    closed = Task.objects.filter(source_key=key, status=TaskStatus.OPEN).update(
        status=TaskStatus.DONE, closed_at=timezone.now()
    )
    if closed:
        audit_record(
            actor=actor, action="followups.task.closed_by_visit", target=recall, changes={"task": key}
        )


@transaction.atomic
def recall_on_void(*, actor, visit: Visit) -> int:
    """A voided visit neither keeps nor resets: its keeps are voided (the bonus reversed,
    no tier credit) and each recall it reset goes back to the latest other trigger visit.
    Returns how many recalls changed."""
    from loyalty.services import points_reverse

    changed = 0
    for keep in RecallKeep.objects.select_for_update().filter(visit=visit, voided_at__isnull=True):
        keep.voided_at = timezone.now()
        keep.save(update_fields=["voided_at"])
        if keep.points:
            points_reverse(
                actor=actor, earn_key=bonus_key(keep.recall_id, keep.due_on), reason=_("Visit voided")
            )
    for recall in Recall.objects.select_for_update().select_related("recall_type").filter(last_visit=visit):
        old_due = recall.due_on
        keep = RecallKeep.objects.filter(recall=recall, visit=visit).first()
        previous = _latest_trigger_visit(recall, exclude=visit.pk)
        if previous is None:
            recall.is_active = False
            recall.last_visit, recall.last_visit_on = None, None
        else:
            prev_day = local_day(previous.checked_out_at)
            recall.last_visit, recall.last_visit_on = previous, prev_day
            recall.due_on = keep.due_on if keep else add_months(prev_day, recall.recall_type.interval_months)
        recall.updated_at = timezone.now()
        recall.save()
        audit_record(
            actor=actor,
            action="followups.recall.visit_voided",
            target=recall,
            changes={"due_on": [old_due, recall.due_on], "visit": visit.pk, "active": recall.is_active},
        )
        changed += 1
    return changed


def _latest_trigger_visit(recall: Recall, *, exclude: int) -> Visit | None:
    items = trigger_items().get(recall.recall_type_id, set())
    return (
        Visit.objects.filter(
            member_id=recall.member_id,
            status=VisitStatus.CHECKED_OUT,
            lines__item_id__in=items,
        )
        .exclude(pk=exclude)
        .order_by("-checked_out_at")
        .first()
    )


@transaction.atomic
def recall_set_due(*, actor, recall: Recall, due_on: dt.date, reason: str) -> Recall:
    """Set a recall's due date by hand (``followups.set_recall_due``, a reason): kept as set
    by later visits until one keeps the recall. Audited."""
    if actor is None or not actor.has_perm(SET_DUE_PERMISSION):
        raise FollowupError(_("Your role may not change recall dates."), code="forbidden")
    reason = " ".join((reason or "").split())
    if not reason:
        raise FollowupError(_("Give a reason for the new date."), field="reason")
    recall = Recall.objects.select_for_update().get(pk=recall.pk)
    old = recall.due_on
    recall.due_on, recall.manual, recall.manual_reason = due_on, True, reason[:200]
    recall.is_active = True
    recall.updated_at = timezone.now()
    recall.save()
    audit_record(
        actor=actor,
        action="followups.recall.due_set",
        target=recall,
        changes={"due_on": [old, due_on], "reason": reason},
    )
    return recall


# --- the nightly pass -----------------------------------------------------------------------

# The latest trigger visit of every (person, type), computed once per run into a temporary
# table; new pairs are inserted from it set-based, stale ones are replayed one by one.
_LATEST_SQL = """
CREATE TEMP TABLE followups_latest ON COMMIT DROP AS
WITH trig(type_id, item_id) AS (SELECT * FROM unnest(%(types)s::bigint[], %(items)s::bigint[]))
SELECT DISTINCT ON (v.member_id, t.type_id)
       v.member_id, t.type_id, v.id AS visit_id, v.branch_id,
       (v.checked_out_at AT TIME ZONE %(tz)s)::date AS day
  FROM appointments_visit v
  JOIN appointments_chargeline l ON l.visit_id = v.id
  JOIN trig t ON t.item_id = l.item_id
  JOIN followups_recalltype rt ON rt.id = t.type_id
  JOIN members_member m ON m.id = v.member_id
 WHERE v.status = 'checked_out' AND v.checked_out_at >= %(since)s
   AND (rt.max_age IS NULL OR m.birth_date IS NULL
        OR (v.checked_out_at AT TIME ZONE %(tz)s)::date < m.birth_date + make_interval(years => rt.max_age + 1))
 ORDER BY v.member_id, t.type_id, v.checked_out_at DESC, v.id DESC
"""

_INSERT_NEW = """
INSERT INTO followups_recall (member_id, recall_type_id, branch_id, last_visit_id, last_visit_on, due_on,
                              manual, manual_reason, is_active, updated_at)
SELECT l.member_id, l.type_id, l.branch_id, l.visit_id, l.day,
       (l.day + make_interval(months => rt.interval_months))::date, false, '', true, now()
  FROM followups_latest l JOIN followups_recalltype rt ON rt.id = l.type_id
ON CONFLICT (member_id, recall_type_id) DO NOTHING
RETURNING id
"""

_STALE = """
SELECT l.visit_id
  FROM followups_latest l JOIN followups_recall r ON r.member_id = l.member_id AND r.recall_type_id = l.type_id
 WHERE (r.last_visit_on IS NULL OR l.day > r.last_visit_on) AND r.last_visit_id IS DISTINCT FROM l.visit_id
"""


NIGHTLY_JOB = "followups.recall_nightly"


def sync_since() -> dt.datetime | None:
    """Where the nightly sync starts: two days before its last successful run (a margin for
    visits checked out while it ran, and a night it missed), or from the beginning when it
    never ran (the backfill at go-live)."""
    from clinic.models import JobHeartbeat

    last = JobHeartbeat.objects.filter(name=NIGHTLY_JOB).values_list("last_run_at", flat=True).first()
    return last - dt.timedelta(days=2) if last else None


def recalls_sync(*, since: dt.datetime | None = None) -> dict[str, int]:
    """Make the recall of every (person, type) whose trigger visits have none yet, in one
    INSERT … SELECT; and replay through ``recall_on_visit`` the few visits a recall has not
    seen (a signal that was lost). ``since`` limits the visits looked at (default: all).
    Idempotent: a second run finds nothing."""
    by_type = trigger_items()
    types, items = [], []
    for type_id, trig in by_type.items():
        for item in trig:
            types.append(type_id)
            items.append(item)
    if not types:
        return {"created": 0, "replayed": 0}
    params = {
        "types": types,
        "items": items,
        "tz": timezone.get_current_timezone_name(),
        "since": since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    }
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS followups_latest")  # an outer transaction's run
        cur.execute(_LATEST_SQL, params)
        cur.execute(_STALE)
        stale = [r[0] for r in cur.fetchall()]
        cur.execute(_INSERT_NEW)
        created_ids = [r[0] for r in cur.fetchall()]
        cur.execute("DROP TABLE followups_latest")
        if created_ids:
            # One row for the run: a recall is the clinic's schedule derived from visits that
            # are audited themselves, and a go-live backfill makes one per person.
            audit_record(
                actor=None,
                action="followups.recall.synced",
                changes={"created": len(created_ids), "since": params["since"], "first": min(created_ids)},
            )
    for visit_id in stale:
        recall_on_visit(actor=None, visit=Visit(pk=visit_id))
    return {"created": len(created_ids), "replayed": len(stale)}


def _bulk_audit(action: str, model, ids: list[int], changes: dict) -> None:
    """One audit row per row a set-based job made, written in the same transaction."""
    ct = ContentType.objects.get_for_model(model)
    with connection.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {AuditLog._meta.db_table}
                    (at, actor_name, action, target_type_id, target_id, target_repr, branch_id, changes)
                SELECT now(), '', %s, %s, t.id::text, '', t.branch_id, %s::jsonb
                  FROM {model._meta.db_table} t WHERE t.id = ANY(%s)""",
            [action, ct.pk, _json(changes), ids],
        )


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _future_booking():
    return Exists(
        Appointment.objects.filter(
            member_id=OuterRef("member_id"),
            status__in=FUTURE_BOOKING_STATUSES,
            start__gt=timezone.now(),
        )
    )


def _due_recalls(today: dt.date):
    return (
        Recall.objects.filter(is_active=True, member__status=MemberStatus.ACTIVE, recall_type__is_active=True)
        .annotate(booked=_future_booking())
        .filter(booked=False)
    )


def recall_calls_make(*, today: dt.date | None = None, grace_days: int = 7) -> int:
    """The phone task of every recall whose due date passed ``call_days_after`` days ago
    (up to ``grace_days`` later, so a pause in the job catches up but ancient recalls do
    not flood the list) without a booking. One per recall and due date
    (``recall:<id>:<due>:call``), set-based; returns how many were made now."""
    from .recall_bulk import tasks_bulk_create

    today = today or timezone.localdate()
    rows = []
    qs = (
        _due_recalls(today)
        .filter(due_on__lte=today, due_on__gte=today - dt.timedelta(days=90 + grace_days))
        .exclude(call_for=F("due_on"))
        .select_related("recall_type")
        .only("id", "due_on", "member_id", "branch_id", "recall_type__name", "recall_type__call_days_after")
    )
    picked = []
    with translation.override(settings.LANGUAGE_CODE):
        for recall in qs.iterator(chunk_size=5000):
            _call_row(recall, today, grace_days, picked, rows)
    made = tasks_bulk_create(rows)
    if picked:
        Recall.objects.filter(pk__in=picked).update(call_for=F("due_on"))
    return made


def _call_row(recall: Recall, today: dt.date, grace_days: int, picked: list, rows: list) -> None:
    start = recall.due_on + dt.timedelta(days=recall.recall_type.call_days_after)
    if not (start <= today <= start + dt.timedelta(days=grace_days)):
        return
    picked.append(recall.pk)
    rows.append(
        {
            "kind": TaskKind.RECALL,
            "member_id": recall.member_id,
            "branch_id": recall.branch_id,
            "title": _("Recall: %(type)s, due %(date)s")
            % {"type": recall.recall_type.name, "date": recall.due_on},
            "due_on": today,
            "source_key": f"recall:{recall.pk}:{recall.due_on.isoformat()}:call",
            "script": _("Ask whether they would like to book their %(type)s.")
            % {"type": recall.recall_type.name},
        }
    )


def recall_reminders_send(*, today: dt.date | None = None) -> dict[str, int]:
    """The reminders of the day: ``remind_days_before`` ahead of the due date, and on it
    (up to the phone-task day if the job missed it), by the person's channel through the
    outbox. Each once per recall and due date (the outbox key); silent with a future
    booking."""
    today = today or timezone.localdate()
    counts = {"early": 0, "due": 0}
    base = _due_recalls(today).select_related("recall_type", "member", "branch")
    early = base.filter(due_on__gt=today, due_on__lte=today + dt.timedelta(days=90)).exclude(
        early_sent_for=F("due_on")
    )
    for recall in early.iterator(chunk_size=2000):
        if recall.due_on - dt.timedelta(days=recall.recall_type.remind_days_before) > today:
            continue
        if _remind(recall, "early"):
            counts["early"] += 1
        Recall.objects.filter(pk=recall.pk).update(early_sent_for=recall.due_on)
    due = base.filter(due_on__lte=today, due_on__gte=today - dt.timedelta(days=90)).exclude(
        due_sent_for=F("due_on")
    )
    for recall in due.iterator(chunk_size=2000):
        if today >= recall.due_on + dt.timedelta(days=recall.recall_type.call_days_after):
            continue
        if _remind(recall, "due"):
            counts["due"] += 1
        Recall.objects.filter(pk=recall.pk).update(due_sent_for=recall.due_on)
    return counts


def _remind(recall: Recall, step: str) -> bool:
    member = recall.member
    with translation.override(member.language or "zh-hans"):
        params = {
            "name": member.name,
            "type": recall.recall_type.display_name,
            "date": recall.due_on.isoformat(),
            "branch": recall.branch.display_name,
            "phone": recall.branch.phone,
        }
    row = care_notify(
        member=member,
        template_key=f"followups.recall_{step}",
        params=params,
        dedupe_key=f"recall:{recall.pk}:{recall.due_on.isoformat()}:{step}",
    )
    return row is not None and getattr(row, "was_created", False)


def recall_keep_credits(member_id: int, since: dt.datetime, until: dt.datetime) -> int:
    """Loyalty's keep-credit hook: recalls kept on time (not voided) in (since, until]."""
    return RecallKeep.objects.filter(
        member_id=member_id,
        on_time=True,
        voided_at__isnull=True,
        kept_on__gt=local_day(since),
        kept_on__lte=local_day(until),
    ).count()


def recalls_for_member(member: Member):
    return Recall.objects.filter(member=member).select_related("recall_type").order_by("due_on")


__all__ = [
    "recall_calls_make",
    "recall_keep_credits",
    "recall_on_visit",
    "recall_on_void",
    "recall_reminders_send",
    "recall_set_due",
    "recalls_sync",
]
