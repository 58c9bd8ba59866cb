"""Spreadsheet and JSON exports: a person's own data on request, and staff lists.

Every cell that starts with ``= + - @`` (or a tab / carriage return) is prefixed with an
apostrophe so a spreadsheet never runs it as a formula (CSV/formula injection). Phones and ID
numbers are masked unless the exporting role may reveal them; each export is audited.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable

from django.db import transaction
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from clinic.phones import mask_phone, national_digits
from clinic.services import audit_record

from .idnumbers import mask_id_number
from .models import Member

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def escape_cell(value):
    """Make a value safe for a spreadsheet cell (translated labels become text)."""
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    return value


def workbook_bytes(sheets: Iterable[tuple[str, list[str], Iterable[Iterable]]]) -> bytes:
    wb = Workbook(write_only=True)
    for title, header, rows in sheets:
        ws = wb.create_sheet(title=str(title)[:31])
        ws.append([escape_cell(h) for h in header])
        for row in rows:
            ws.append([escape_cell(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _phone(value: str, reveal: bool) -> str:
    if not value:
        return ""
    return national_digits(value) if reveal else mask_phone(value)


def member_list_rows(queryset, *, reveal_phone: bool) -> Iterable[list]:
    for m in queryset.iterator(chunk_size=2000) if not queryset._prefetch_related_lookups else queryset:
        yield [
            m.pk,
            m.name,
            m.get_gender_display(),
            m.birth_date,
            _phone(m.phone, reveal_phone),
            m.get_stage_display(),
            m.card_no or "",
            str(m.branch),
            str(m.channel or ""),
            "、".join(t.name for t in m.tags.all()),
            m.created_at,
            m.last_visit_at,
        ]


LIST_HEADER = [
    gettext_lazy("ID"),
    gettext_lazy("Name"),
    gettext_lazy("Gender"),
    gettext_lazy("Date of birth"),
    gettext_lazy("Mobile phone"),
    gettext_lazy("Stage"),
    gettext_lazy("Card number"),
    gettext_lazy("Home branch"),
    gettext_lazy("Acquisition channel"),
    gettext_lazy("Tags"),
    gettext_lazy("Registered at"),
    gettext_lazy("Last visit"),
]


def member_list_response(*, actor, queryset, branch=None) -> HttpResponse:
    reveal = actor.has_perm("clinic.reveal_contact")
    rows = list(member_list_rows(queryset, reveal_phone=reveal))
    content = workbook_bytes([(_("Customers"), LIST_HEADER, rows)])
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="members.list.exported",
            branch=branch,
            changes={"rows": len(rows), "phones": "full" if reveal else "masked"},
        )
    response = HttpResponse(content, content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="members-{stamp}.xlsx"'
    return response


def _local(value):
    """A timestamp in the clinic's zone (Asia/Shanghai), ISO 8601 with its offset."""
    return timezone.localtime(value).isoformat() if value else None


def person_data(member: Member, *, medical: bool = True) -> dict:
    """Everything the clinic holds about a person (PIPL art. 45: the right to a copy).

    ``medical=False`` (an exporter without ``clinic.view_medical``) leaves the medical
    history out and says so: a clinician exports the clinical part."""
    data = {
        "profile": {
            "id": member.pk,
            "name": member.name,
            "gender": member.get_gender_display(),
            "birth_date": member.birth_date.isoformat() if member.birth_date else None,
            "phone": national_digits(member.phone) if member.phone else "",
            "other_contacts": member.other_contacts,
            "wechat_id": member.wechat_id,
            "email": member.email,
            "id_number": member.id_number,
            "address": member.address,
            "occupation": member.occupation,
            "home_branch": str(member.branch),
            "acquisition_channel": str(member.channel or ""),
            "stage": member.get_stage_display(),
            "card_no": member.card_no,
            "tags": [t.name for t in member.tags.all()],
            "notes": member.notes,
            "created_at": _local(member.created_at),
        },
        "medical": {
            "allergies": member.allergies,
            "conditions": member.condition_labels(),
            "dental_history": member.dental_history,
        },
        "consents": [
            {
                "kind": c.get_kind_display(),
                "channel": c.get_channel_display(),
                "granted_at": _local(c.granted_at),
                "withdrawn_at": _local(c.withdrawn_at),
            }
            for c in member.consents.all()
        ],
        "family": [
            {
                "relative": link.relative.name,
                "relation": link.get_relation_display(),
                "guardian": link.is_guardian,
            }
            for link in member.family_links.select_related("relative")
        ],
        "communications": [
            {
                "at": _local(c.at),
                "channel": c.get_channel_display(),
                "direction": c.get_direction_display(),
                "summary": c.summary,
            }
            for c in member.communications.all()
        ],
    }
    if not medical:
        data["medical"] = {"omitted": str(MEDICAL_OMITTED)}
    return data


MEDICAL_OMITTED = gettext_lazy(
    "Medical history is left out: exporting it needs the permission to see medical records."
)

# Column and row labels of the personal-data workbook (the JSON keeps the stable keys).
LABELS = {
    "id": gettext_lazy("ID"),
    "name": gettext_lazy("Name"),
    "gender": gettext_lazy("Gender"),
    "birth_date": gettext_lazy("Date of birth"),
    "phone": gettext_lazy("Mobile phone"),
    "other_contacts": gettext_lazy("Other contacts"),
    "wechat_id": gettext_lazy("WeChat ID"),
    "email": gettext_lazy("E-mail address"),
    "id_number": gettext_lazy("ID number"),
    "address": gettext_lazy("Address"),
    "occupation": gettext_lazy("Occupation"),
    "home_branch": gettext_lazy("Home branch"),
    "acquisition_channel": gettext_lazy("Acquisition channel"),
    "stage": gettext_lazy("Stage"),
    "card_no": gettext_lazy("Card number"),
    "tags": gettext_lazy("Tags"),
    "notes": gettext_lazy("Notes"),
    "created_at": gettext_lazy("Registered at"),
    "allergies": gettext_lazy("Allergies"),
    "conditions": gettext_lazy("Conditions"),
    "dental_history": gettext_lazy("Dental history"),
    "omitted": gettext_lazy("Note"),
    "kind": gettext_lazy("Consent"),
    "channel": gettext_lazy("Channel"),
    "granted_at": gettext_lazy("Granted at"),
    "withdrawn_at": gettext_lazy("Withdrawn at"),
    "relative": gettext_lazy("Relative"),
    "relation": gettext_lazy("Relation"),
    "guardian": gettext_lazy("Guardian"),
    "at": gettext_lazy("Time"),
    "direction": gettext_lazy("Direction"),
    "summary": gettext_lazy("Summary"),
}
SHEETS = {
    "consents": gettext_lazy("Consents"),
    "family": gettext_lazy("Family"),
    "communications": gettext_lazy("Communications"),
}


def person_data_response(*, actor, member: Member, fmt: str) -> HttpResponse:
    """Staff export a person's data on request: every app's part (members.privacy registry),
    the medical part only for staff who may see medical records. Audited."""
    if fmt not in {"json", "xlsx"}:
        raise Http404
    medical = actor.has_perm("clinic.view_medical")
    from .privacy import export_response
    from .services import member_data_export_record

    member_data_export_record(actor=actor, member=member, fmt=fmt, medical=medical)
    return export_response(member, fmt=fmt, medical=medical)


def _flat(value):
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T" and value[:4].isdigit():
        # an ISO timestamp from person_data: a real spreadsheet time in the clinic's zone
        try:
            return timezone.localtime(dt.datetime.fromisoformat(value)).replace(tzinfo=None)
        except ValueError:
            return value
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return value


__all__ = ["escape_cell", "mask_id_number", "member_list_response", "person_data_response"]
