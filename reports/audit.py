"""The audit-log page's reads (docs/reports.md "Audit log"): the log as the viewer may see
it — a branch manager their branches' rows, HQ (``clinic.view_all_branches``) every row —
filtered by person, staff, action and date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.labels import audit_action_label
from clinic.models import AuditLog
from clinic.selectors import user_branch_ids

VIEW_PERM = "clinic.view_auditlog"
EXPORT_PERM = "clinic.export_data"


def audit_log_for(user) -> QuerySet[AuditLog]:
    """Every row the user may read. Rows with no branch (system jobs, role changes) are HQ's."""
    qs = AuditLog.objects.select_related("target_type", "branch")
    branch_ids = user_branch_ids(user)
    if branch_ids is None:  # all branches
        return qs
    return qs.filter(branch_id__in=branch_ids)


def staff_choices(user) -> QuerySet:
    """The logins the filter offers: staff of the viewer's branches (HQ: everyone)."""
    qs = get_user_model().objects.filter(staff__isnull=False).select_related("staff")
    branch_ids = user_branch_ids(user)
    if branch_ids is not None:
        qs = qs.filter(staff__branches__in=branch_ids).distinct()
    return qs.order_by("staff__full_name")


def action_choices(user) -> list[tuple[str, str]]:
    """The actions found in the viewer's rows, by their translated label."""
    codes = audit_log_for(user).order_by().values_list("action", flat=True).distinct()
    return sorted(((code, audit_action_label(code)) for code in codes), key=lambda c: c[1])


def audit_log_filter(
    qs: QuerySet[AuditLog],
    *,
    person: str = "",
    staff=None,
    action: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditLog]:
    """``person``: a member's number (id) or part of their name as the row recorded it;
    ``date_to`` is inclusive, days in the clinic's zone."""
    if person:
        member_type = ContentType.objects.filter(app_label="members", model="member").first()
        by_person = Q(target_repr__icontains=person)
        if person.isdigit():
            by_person |= Q(target_id=person)
        qs = qs.filter(by_person, target_type=member_type) if member_type else qs.none()
    if staff is not None:
        qs = qs.filter(actor=staff)
    if action:
        qs = qs.filter(action=action)
    zone = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=zone))
    if date_to:
        qs = qs.filter(at__lt=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone))
    return qs.order_by("-at", "-id")


def target_label(entry: AuditLog) -> str:
    from clinic.roles import model_label

    if not entry.target_type_id:
        return entry.target_repr or "—"
    kind = model_label(entry.target_type)
    return f"{kind} · {entry.target_repr}" if entry.target_repr else kind


def changes_text(entry: AuditLog) -> str:
    from clinic.admin import audit_change_rows

    return "；".join(f"{label}: {value}" for label, value in audit_change_rows(entry))


def export_rows(qs: QuerySet[AuditLog]) -> Iterator[tuple]:
    for entry in qs.iterator(chunk_size=2000):
        yield (
            entry.at,
            str(entry.branch) if entry.branch_id else "",
            entry.actor_label,
            entry.action_label,
            target_label(entry),
            changes_text(entry),
            entry.ip_address or "",
        )
