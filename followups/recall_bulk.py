"""Set-based task making for the nightly recall and dormancy passes: one INSERT … SELECT
with ``ON CONFLICT (source_key) DO NOTHING`` (the same key rule as ``services.task_create``,
so a re-run makes nothing) and one audit row per task made, in the same transaction. The tasks
made are assigned by the plans' rule, in a few queries a chunk: the person's dedicated rep
where their tier has one, else the branch's customer-service pool in turn, least loaded first."""

from __future__ import annotations

from collections import defaultdict
from itertools import cycle

from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from .models import Task, TaskChannel, TaskStatus


def tasks_bulk_create(rows: list[dict], *, chunk: int = 20_000) -> int:
    """Make the tasks ``rows`` name (kind, member_id, branch_id, title, due_on, source_key,
    optional script and channel) that do not exist yet; returns how many were made."""
    return len(tasks_bulk_create_ids(rows, chunk=chunk))


def tasks_bulk_create_ids(rows: list[dict], *, chunk: int = 20_000) -> dict[str, int]:
    """Like ``tasks_bulk_create``; returns ``{source_key: task id}`` of the tasks made now."""
    from .recall import _bulk_audit

    made: dict[str, int] = {}
    now = timezone.now()
    table = Task._meta.db_table
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        cols = {
            "kind": [r["kind"] for r in part],
            "member": [r["member_id"] for r in part],
            "branch": [r["branch_id"] for r in part],
            "title": [str(r["title"])[:120] for r in part],
            "channel": [r.get("channel", TaskChannel.PHONE) for r in part],
            "script": [str(r.get("script", "")) for r in part],
            "due": [r["due_on"] for r in part],
            "key": [r["source_key"] for r in part],
        }
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                f"""INSERT INTO {table} (kind, member_id, branch_id, title, channel, script, due_on,
                                         status, source_key, created_at, occurrence,
                                         attempts_count, outcome, close_reason)
                    SELECT k, m, b, t, c, s, d, %(status)s, key, %(now)s, 1, 0, '', ''
                      FROM unnest(%(kind)s::text[], %(member)s::bigint[], %(branch)s::bigint[],
                                  %(title)s::text[], %(channel)s::text[], %(script)s::text[],
                                  %(due)s::date[], %(key)s::text[]) AS x(k, m, b, t, c, s, d, key)
                    ON CONFLICT (source_key) DO NOTHING
                    RETURNING id, source_key""",
                {**cols, "status": TaskStatus.OPEN, "now": now},
            )
            new = {key: pk for pk, key in cur.fetchall()}
            if new:
                _assign(list(new.values()))
                _bulk_audit("followups.task.created", Task, list(new.values()), {"by": "nightly"})
        made.update(new)
    return made


def _assign(task_ids: list[int]) -> None:
    """Give the new tasks ``task_ids`` their assignees (see the module's docstring)."""
    from .plan_models import ServiceRep
    from .plans import cs_pool

    tasks = list(Task.objects.filter(pk__in=task_ids).values_list("pk", "member_id", "branch_id"))
    reps = dict(
        ServiceRep.objects.filter(
            member_id__in={member for _, member, _ in tasks},
            member__membership__tier__dedicated_rep=True,
            rep__is_active=True,
            rep__staff__branches=F("member__branch"),
        ).values_list("member_id", "rep_id")
    )
    by_branch: dict[int, list[int]] = defaultdict(list)
    assignee: dict[int, int] = {}
    for pk, member, branch in tasks:
        if member in reps:
            assignee[pk] = reps[member]
        else:
            by_branch[branch].append(pk)
    from clinic.models import Branch

    for branch in Branch.objects.filter(pk__in=by_branch):
        pool = list(cs_pool(branch).values_list("pk", flat=True))
        if not pool:
            continue  # no customer service here: the tasks wait unassigned on the team list
        load = dict(
            Task.objects.filter(branch=branch, status=TaskStatus.OPEN, assignee__in=pool)
            .exclude(pk__in=task_ids)
            .values_list("assignee")
            .annotate(n=Count("pk"))
        )
        turn = cycle(sorted(pool, key=lambda user: (load.get(user, 0), user)))
        for pk in by_branch[branch.pk]:
            assignee[pk] = next(turn)
    if assignee:
        with connection.cursor() as cur:
            cur.execute(
                f"""UPDATE {Task._meta.db_table} AS t SET assignee_id = x.a
                      FROM unnest(%s::bigint[], %s::bigint[]) AS x(id, a) WHERE t.id = x.id""",
                [list(assignee), list(assignee.values())],
            )
