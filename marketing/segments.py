"""Writes of saved segments, and their masked export. Each service owns its transaction and
writes one audit row in it (``marketing.segment.created / changed / deleted / exported``)."""

from __future__ import annotations

import csv
import io

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinic.models import Branch
from clinic.phones import mask_email, mask_phone
from clinic.selectors import user_branch_ids
from clinic.services import audit_record

from .errors import MarketingError
from .segment_models import Quadrant, Segment
from .segment_selectors import segment_scope, segment_sql

FILTER_KEYS = frozenset(
    {
        "stages", "tiers", "tags", "channels", "branches", "genders", "age_min", "age_max",
        "birth_months", "first_visit_from", "first_visit_to", "last_visit_from", "last_visit_to",
        "visits_min", "visits_max", "spend_min", "spend_max", "points_min", "points_max",
        "expiring_points_min", "expiring_days", "services", "consultants", "partners",
        "recall_due_days", "consents", "quadrants", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max",
    }
)  # fmt: skip

EXPORT_LIMIT = 50000


def _check(*, actor, name: str, branch: Branch | None, filters: dict) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise MarketingError(_("Give the segment a name."), field="name")
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise MarketingError(_("Unknown filter: %(names)s") % {"names": ", ".join(sorted(unknown))})
    ids = user_branch_ids(actor) if actor is not None else None  # None: the system (seed, jobs)
    if branch is None and ids is not None:
        raise MarketingError(_("Choose the branch of the segment."), field="branch")
    if branch is not None and ids is not None and branch.pk not in ids:
        raise MarketingError(_("You do not work at this branch."), field="branch")
    return name


@transaction.atomic
def segment_create(
    *, actor, name: str, filters: dict, branch: Branch | None = None, description: str = ""
) -> Segment:
    """Save a segment. A branch-bound user saves it for one of their branches; only HQ may
    save one for every branch (no branch)."""
    name = _check(actor=actor, name=name, branch=branch, filters=filters)
    segment = Segment.objects.create(
        name=name,
        branch=branch,
        description=description or "",
        filters=filters,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="marketing.segment.created",
        target=segment,
        branch=branch,
        changes={"name": name, "filters": filters},
    )
    return segment


@transaction.atomic
def segment_update(
    *, actor, segment: Segment, name: str, filters: dict, branch: Branch | None = None, description: str = ""
) -> Segment:
    name = _check(actor=actor, name=name, branch=branch, filters=filters)
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    changes = {}
    for field, value in (
        ("name", name),
        ("branch_id", branch.pk if branch else None),
        ("description", description or ""),
        ("filters", filters),
    ):
        if getattr(segment, field) != value:
            changes[field] = [getattr(segment, field), value]
            setattr(segment, field, value)
    if changes:
        segment.updated_at = timezone.now()
        segment.save()
        audit_record(
            actor=actor,
            action="marketing.segment.changed",
            target=segment,
            branch=segment.branch,
            changes=changes,
        )
    return segment


@transaction.atomic
def segment_delete(*, actor, segment: Segment) -> None:
    """Remove a segment. Broadcasts keep their own frozen audience, so nothing else changes;
    a segment a broadcast still points at is refused."""
    if hasattr(segment, "broadcasts") and segment.broadcasts.exists():
        raise MarketingError(_("A broadcast was sent to this segment: it is kept for the record."))
    audit_record(
        actor=actor,
        action="marketing.segment.deleted",
        target=segment,
        branch=segment.branch,
        changes={"name": segment.name, "filters": segment.filters},
    )
    segment.delete()


EXPORT_HEADER = [
    gettext_lazy("ID"),
    gettext_lazy("Name"),
    gettext_lazy("Gender"),
    gettext_lazy("Stage"),
    gettext_lazy("Home branch"),
    gettext_lazy("Mobile phone"),
    gettext_lazy("E-mail address"),
    gettext_lazy("Quadrant"),
    gettext_lazy("Last visit"),
]


def _export_rows(segment: Segment, *, actor) -> list[list]:
    from members.models import Member

    sql, params = segment_sql(segment.filters, scope=segment_scope(actor, segment.branch), with_quadrant=True)
    quadrant_of: dict[int, str] = {}
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"{sql} LIMIT {EXPORT_LIMIT + 1}", params)
        for pk, quadrant in cursor.fetchall():
            quadrant_of[pk] = quadrant
    if len(quadrant_of) > EXPORT_LIMIT:
        raise MarketingError(
            _("This segment has more than %(n)s people: narrow it before exporting.") % {"n": EXPORT_LIMIT}
        )
    labels = dict(Quadrant.choices)
    rows = []
    people = Member.objects.filter(pk__in=list(quadrant_of)).select_related("branch").order_by("id")
    for m in people.iterator(chunk_size=2000):
        rows.append([
            m.pk, m.name, m.get_gender_display(), m.get_stage_display(), str(m.branch),
            mask_phone(m.phone), mask_email(m.email), str(labels.get(quadrant_of[m.pk], "")),
            timezone.localtime(m.last_visit_at).strftime("%Y-%m-%d %H:%M") if m.last_visit_at else "",
        ])  # fmt: skip
    return rows


def segment_export(*, actor, segment: Segment, fmt: str) -> tuple[bytes, str, str]:
    """The segment's people, phones and e-mail addresses masked, as csv or xlsx: (content,
    content type, file name). Audited with the row count; there is no unmasked export."""
    from members.exports import XLSX, escape_cell, workbook_bytes

    if fmt not in ("csv", "xlsx"):
        raise MarketingError(_("Unknown export format."))
    rows = _export_rows(segment, actor=actor)
    if fmt == "xlsx":
        # A sheet title may not hold []:*?/\ (a "[demo]" name): the title is fixed.
        content = workbook_bytes([(_("Segment"), EXPORT_HEADER, rows)])
        ctype = XLSX
    else:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([str(h) for h in EXPORT_HEADER])
        for row in rows:
            writer.writerow([escape_cell(v) for v in row])
        content = ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 csv right
        ctype = "text/csv; charset=utf-8"
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="marketing.segment.exported",
            target=segment,
            branch=segment.branch,
            changes={"rows": len(rows), "format": fmt, "contacts": "masked"},
        )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return content, ctype, f"segment-{segment.pk}-{stamp}.{fmt}"
