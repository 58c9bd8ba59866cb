"""Set-based task making for the nightly recall and dormancy passes: one INSERT … SELECT
with ``ON CONFLICT (source_key) DO NOTHING`` (the same key rule as ``services.task_create``,
so a re-run makes nothing) and one audit row per task made, in the same transaction."""

from __future__ import annotations

from django.db import connection, transaction
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
                                         status, source_key, created_at)
                    SELECT k, m, b, t, c, s, d, %(status)s, key, %(now)s
                      FROM unnest(%(kind)s::text[], %(member)s::bigint[], %(branch)s::bigint[],
                                  %(title)s::text[], %(channel)s::text[], %(script)s::text[],
                                  %(due)s::date[], %(key)s::text[]) AS x(k, m, b, t, c, s, d, key)
                    ON CONFLICT (source_key) DO NOTHING
                    RETURNING id, source_key""",
                {**cols, "status": TaskStatus.OPEN, "now": now},
            )
            new = {key: pk for pk, key in cur.fetchall()}
            if new:
                _bulk_audit("followups.task.created", Task, list(new.values()), {"by": "nightly"})
        made.update(new)
    return made
