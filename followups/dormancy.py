"""Reactivation (唤醒) of people drifting away, set-based and idempotent.

- Dormant: an active patient or member whose last visit is more than
  ``CarePolicy.dormant_months`` ago. The episode is the day of that last visit, so a new
  visit ends it and a later lapse is a new episode.
- Spend drop (消费额骤降): paid visits of the last 12 months under ``spend_drop_ratio`` of
  the 12 months before (which reached ``spend_drop_min_amount``). One episode per calendar
  year.
- Each episode gets a phone task (``reactivation:<member>:<reason>:<episode>:<n>``), at most
  one open reactivation task per person, a new one only ``reactivation_retry_days`` after
  the last and at most ``reactivation_max_tasks`` per episode (the cap on attempts); no more
  than ``reactivation_daily_cap`` new ones per branch a day, the most recently lapsed first.
- A checked-out visit closes the person's open reactivation task (``reactivation_close``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clinic.services import audit_record
from loyalty.services.ledger import add_months

from .models import CarePolicy, Reactivation, ReactivationReason, Task, TaskKind, TaskStatus
from .recall import _bulk_audit
from .recall_bulk import tasks_bulk_create_ids


def care_policy() -> CarePolicy:
    row = CarePolicy.objects.filter(pk=1).first()
    if row is None:
        row, _created = CarePolicy.objects.get_or_create(pk=1)
    return row


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


_DORMANT_SQL = """
INSERT INTO followups_reactivation (member_id, branch_id, reason, episode, tasks_made, created_at)
SELECT m.id, m.branch_id, 'dormant', to_char((m.last_visit_at AT TIME ZONE %(tz)s)::date, 'YYYY-MM-DD'), 0, now()
  FROM members_member m
 WHERE m.status = 'active' AND m.stage IN ('patient', 'member') AND m.phone <> ''
   AND m.last_visit_at IS NOT NULL AND m.last_visit_at < %(cutoff)s
ON CONFLICT (member_id, reason, episode) DO NOTHING
RETURNING id
"""

_DROP_SQL = """
WITH spend AS (
    SELECT v.member_id,
           COALESCE(SUM(v.amount_paid) FILTER (WHERE v.checked_out_at >= %(mid)s), 0) AS recent,
           COALESCE(SUM(v.amount_paid) FILTER (WHERE v.checked_out_at < %(mid)s), 0) AS before
      FROM appointments_visit v
     WHERE v.status = 'checked_out' AND v.checked_out_at >= %(start)s AND v.checked_out_at < %(end)s
     GROUP BY v.member_id
)
INSERT INTO followups_reactivation (member_id, branch_id, reason, episode, tasks_made, created_at)
SELECT m.id, m.branch_id, 'spend_drop', %(year)s, 0, now()
  FROM spend s JOIN members_member m ON m.id = s.member_id
 WHERE m.status = 'active' AND m.phone <> ''
   AND s.before >= %(min_amount)s AND s.recent < s.before * %(ratio)s
   AND m.last_visit_at >= %(cutoff)s
ON CONFLICT (member_id, reason, episode) DO NOTHING
RETURNING id
"""

# Episodes that may get their next task: under the cap, spaced out, still current (a dormant
# episode ends with a new visit), and the person has no open reactivation task.
# The branch's daily cap keeps the list to what customer service can call (the most recently
# lapsed first: they are the likeliest to come back); the rest wait for the next days.
_DUE_SQL = """
WITH due AS (
    SELECT DISTINCT ON (r.member_id) r.id, r.member_id, r.branch_id, r.reason, r.episode, r.tasks_made,
           m.last_visit_at
      FROM followups_reactivation r
      JOIN members_member m ON m.id = r.member_id
     WHERE r.tasks_made < %(cap)s
       AND (r.last_task_on IS NULL OR r.last_task_on <= %(retry_before)s)
       AND m.status = 'active'
       AND (r.reason <> 'dormant' OR (m.last_visit_at < %(cutoff)s
            AND to_char((m.last_visit_at AT TIME ZONE %(tz)s)::date, 'YYYY-MM-DD') = r.episode))
       AND (r.reason <> 'spend_drop' OR r.episode = %(year)s)
       AND NOT EXISTS (SELECT 1 FROM followups_task t
                        WHERE t.member_id = r.member_id AND t.kind = 'reactivation' AND t.status = 'open')
     ORDER BY r.member_id, r.reason
), made_today AS (
    SELECT branch_id, count(*) AS n FROM followups_task
     WHERE kind = 'reactivation' AND created_at >= %(day_start)s GROUP BY branch_id
), ranked AS (
    SELECT d.*, row_number() OVER (PARTITION BY d.branch_id ORDER BY d.last_visit_at DESC NULLS LAST, d.member_id)
           + COALESCE(t.n, 0) AS rank
      FROM due d LEFT JOIN made_today t ON t.branch_id = d.branch_id
)
SELECT id, member_id, branch_id, reason, episode, tasks_made FROM ranked
 WHERE %(daily_cap)s = 0 OR rank <= %(daily_cap)s
"""


def reactivations_run(*, today: dt.date | None = None) -> dict[str, int]:
    """The nightly dormancy and spend-drop pass. Returns ``{"episodes": n, "tasks": n}``
    made now; a second run the same day makes nothing."""
    today = today or timezone.localdate()
    rules = care_policy()
    tz = timezone.get_current_timezone_name()
    cutoff = _start_of(add_months(today, -rules.dormant_months))
    mid = _start_of(add_months(today, -12))
    params = {
        "tz": tz,
        "cutoff": cutoff,
        "mid": mid,
        "start": _start_of(add_months(today, -24)),
        "end": _start_of(today + dt.timedelta(days=1)),
        "year": str(today.year),
        "ratio": rules.spend_drop_ratio,
        "min_amount": rules.spend_drop_min_amount,
        "cap": rules.reactivation_max_tasks,
        "retry_before": today - dt.timedelta(days=rules.reactivation_retry_days),
        "daily_cap": rules.reactivation_daily_cap,
        "day_start": _start_of(today),
    }
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_DORMANT_SQL, params)
        episodes = [r[0] for r in cur.fetchall()]
        cur.execute(_DROP_SQL, params)
        episodes += [r[0] for r in cur.fetchall()]
        if episodes:
            _bulk_audit("followups.reactivation.opened", Reactivation, episodes, {"by": "nightly"})
        cur.execute(_DUE_SQL, params)
        due = cur.fetchall()
        rows, by_key = [], {}
        with translation.override(settings.LANGUAGE_CODE):
            titles = {
                ReactivationReason.DORMANT: _("Reactivation: no visit for %(months)s months")
                % {"months": rules.dormant_months},
                ReactivationReason.SPEND_DROP: _("Reactivation: spending dropped sharply"),
            }
            script = _("Ask how they are, whether anything put them off, and offer a check-up booking.")
        for rid, member_id, branch_id, reason, episode, made in due:
            key = f"reactivation:{member_id}:{reason}:{episode}:{made + 1}"
            by_key[key] = rid
            rows.append(
                {
                    "kind": TaskKind.REACTIVATION,
                    "member_id": member_id,
                    "branch_id": branch_id,
                    "title": titles[reason],
                    "script": script,
                    "due_on": today,
                    "source_key": key,
                }
            )
        created = tasks_bulk_create_ids(rows)
        if created:
            cur.execute(
                """UPDATE followups_reactivation r
                      SET tasks_made = r.tasks_made + 1, last_task_id = x.task, last_task_on = %s
                     FROM unnest(%s::bigint[], %s::bigint[]) AS x(rid, task)
                    WHERE r.id = x.rid""",
                [today, [by_key[k] for k in created], list(created.values())],
            )
    return {"episodes": len(episodes), "tasks": len(created)}


@transaction.atomic
def reactivation_close(*, actor, member_id: int) -> int:
    """The person came back: their open reactivation tasks are done. Returns how many."""
    tasks = list(
        Task.objects.select_for_update().filter(
            member_id=member_id, kind=TaskKind.REACTIVATION, status=TaskStatus.OPEN
        )
    )
    now = timezone.now()
    for task in tasks:
        task.status, task.closed_at = TaskStatus.DONE, now
        task.save(update_fields=["status", "closed_at"])
        audit_record(
            actor=actor,
            action="followups.task.closed_by_visit",
            target=task,
            changes={"source": task.source_key},
        )
    return len(tasks)
