"""A person's data under PIPL art. 44–47: the full copy (JSON and xlsx) and the privacy
requests (a copy, a deletion) with their staff queue.

**The copy** is built from a registry: every app that holds something about a person
registers a *contributor* at start-up (``register_contributor``), and ``person_export``
asks each of them, so members never imports a higher app and a new app cannot be forgotten
silently (``check_contributors`` lists the apps that hold a foreign key to Member and have
registered nothing). Medical content (allergies, conditions, dental history, teeth treated,
clinical notes) is included only when ``medical`` is true: for the person themself (the
portal) or for staff who may see medical records.

**Requests**: a download by the person is recorded as an export request handled at once;
a deletion request lands in the queue of the branch managers and HQ
(``members.handle_privacyrequest``), who answer within 15 working days
(``clinic.workdays.deadline_after``) and mark it handled with a note. The anonymisation
itself is ``members.services.member_erase`` (restriction while medical records must be
kept); the queue records the decision, it does not erase.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinic.selectors import scope_to_branches
from clinic.services import audit_record
from clinic.workdays import deadline_after

from .errors import MemberError
from .models import Member, PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus

# PIPL art. 50 asks for a timely answer; 15 working days is the term of GB/T 35273-2020
# §8.7 that clinics already work to for requests of this kind.
ANSWER_WORKING_DAYS = 15
HANDLE_PERM = "members.handle_privacyrequest"


# --- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One part of the copy: a sheet in the workbook, a key in the JSON.

    ``rows`` is a list of dicts (one row each) or, for a record, one dict (field → value).
    ``labels`` gives each key its translated column or row label."""

    key: str
    title: str | Promise
    rows: list[dict[str, Any]] | dict[str, Any]
    labels: dict[str, str | Promise] = field(default_factory=dict)


@dataclass(frozen=True)
class Contributor:
    """``fn(member, medical=...)`` returns the app's sections about ``member``."""

    app_label: str
    fn: Callable[..., Iterable[Section]]
    order: int = 100


_CONTRIBUTORS: dict[str, Contributor] = {}


def register_contributor(contributor: Contributor) -> None:
    _CONTRIBUTORS[contributor.app_label] = contributor


def contributors() -> list[Contributor]:
    return sorted(_CONTRIBUTORS.values(), key=lambda c: (c.order, c.app_label))


def check_contributors(app_configs=None, **kwargs):
    """A warning for each installed app with a model pointing at Member that contributes
    nothing to the person's copy of their data."""
    from django.apps import apps
    from django.core import checks

    holders = set()
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if getattr(f, "many_to_one", False) and getattr(f, "related_model", None) is Member:
                holders.add(model._meta.app_label)
    return [
        checks.Warning(
            f"{label} holds data about people but registers no members.privacy contributor",
            id="members.W002",
        )
        for label in sorted(holders - set(_CONTRIBUTORS) - {"members"})
    ]


def local(value) -> str | None:
    """A timestamp in the clinic's zone, ISO 8601 with its offset (what the JSON carries)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat()
    return value.isoformat()


def person_export(member: Member, *, medical: bool) -> dict[str, Any]:
    """Everything the system holds about ``member``, section by section, in the registry's
    order. Keys are stable (for the JSON); titles and labels are translated (for people)."""
    sections: list[Section] = []
    for contributor in contributors():
        sections.extend(contributor.fn(member, medical=medical))
    return {"sections": sections}


def export_json(member: Member, *, medical: bool) -> bytes:
    data: dict[str, Any] = {
        "exported_at": local(timezone.now()),
        "person": member.pk,
        "medical_included": medical,
    }
    for section in person_export(member, medical=medical)["sections"]:
        data[section.key] = section.rows
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()


def export_xlsx(member: Member, *, medical: bool) -> bytes:
    from .exports import _flat, workbook_bytes

    sheets = []
    used: set[str] = set()
    for section in person_export(member, medical=medical)["sections"]:
        title = str(section.title)[:31]
        while title in used:  # two apps' sheets of one name stay apart
            title = title[:29] + "·" + str(len(used))
        used.add(title)
        if isinstance(section.rows, dict):
            pair = [_("Field"), _("Value")]
            rows = [[section.labels.get(k, k), _flat(v)] for k, v in section.rows.items()]
            sheets.append((title, pair, rows))
        else:
            keys = list(section.rows[0]) if section.rows else list(section.labels)
            header = [section.labels.get(k, k) for k in keys] or ["-"]
            sheets.append((title, header, [[_flat(r.get(k)) for k in keys] for r in section.rows]))
    return workbook_bytes(sheets)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_response(member: Member, *, fmt: str, medical: bool) -> HttpResponse:
    if fmt == "json":
        response = HttpResponse(
            export_json(member, medical=medical), content_type="application/json; charset=utf-8"
        )
    else:
        response = HttpResponse(export_xlsx(member, medical=medical), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="person-{member.pk}.{fmt}"'
    return response


# --- requests -------------------------------------------------------------------------------


def _deadline(now: dt.datetime, member: Member) -> dt.datetime:
    return deadline_after(now, ANSWER_WORKING_DAYS, branch=member.branch)


@transaction.atomic
def privacy_export_record(*, actor, member: Member, fmt: str, channel: str = "h5") -> PrivacyRequest:
    """The person downloaded their own data: an export request handled at once, audited."""
    if fmt not in ("json", "xlsx"):
        raise MemberError(_("Choose JSON or Excel."), field="fmt")
    now = timezone.now()
    request = PrivacyRequest.objects.create(
        member=member,
        branch=member.branch,
        kind=PrivacyRequestKind.EXPORT,
        status=PrivacyRequestStatus.HANDLED,
        channel=channel,
        requested_at=now,
        requested_by=_who(actor),
        deadline=_deadline(now, member),
        handled_at=now,
        handling_note=_("Downloaded by the person (%(fmt)s).") % {"fmt": fmt.upper()},
    )
    audit_record(
        actor=actor,
        action="members.member.data_exported",
        target=member,
        changes={"format": fmt, "medical": True, "channel": channel, "request": request.pk},
    )
    return request


def _who(actor) -> str:
    from clinic.services import _actor_name

    return _actor_name(actor)[:150]


@transaction.atomic
def privacy_erasure_request(
    *, actor, member: Member, reason: str = "", channel: str = "h5"
) -> PrivacyRequest:
    """The person asks for their data to be deleted (PIPL art. 47). One open request per
    person: asking again while one is open is refused with its deadline."""
    from .actors import is_member_actor

    if is_member_actor(actor) and actor.member.pk != member.pk:
        raise MemberError(_("You may only ask for your own data."), code="forbidden")
    open_request = PrivacyRequest.objects.filter(
        member=member, kind=PrivacyRequestKind.ERASURE, status=PrivacyRequestStatus.RECEIVED
    ).first()
    if open_request is not None:
        raise MemberError(
            _("Your deletion request is already with us; we answer by %(date)s.")
            % {"date": timezone.localtime(open_request.deadline).strftime("%Y-%m-%d")},
            code="open",
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            request = PrivacyRequest.objects.create(
                member=member,
                branch=member.branch,
                kind=PrivacyRequestKind.ERASURE,
                channel=channel,
                requested_at=now,
                requested_by=_who(actor),
                deadline=_deadline(now, member),
                reason=(reason or "").strip()[:500],
            )
    except IntegrityError as exc:  # a double click: the other request is the one
        raise MemberError(_("Your deletion request is already with us."), code="open") from exc
    audit_record(
        actor=actor,
        action="members.privacy.requested",
        target=member,
        changes={
            "kind": request.kind,
            "request": request.pk,
            "deadline": request.deadline,
            "channel": channel,
        },
    )
    return request


@transaction.atomic
def privacy_request_handle(*, actor, request: PrivacyRequest, note: str) -> PrivacyRequest:
    """Staff mark a request handled and say what was done (erased, restricted while records
    must be kept, refused and why). Needs ``members.handle_privacyrequest``; audited."""
    if not actor.has_perm(HANDLE_PERM):
        raise MemberError(_("You may not handle privacy requests."), code="forbidden")
    note = (note or "").strip()
    if not note:
        raise MemberError(_("Write down what was done."), field="note")
    request = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
    if request.status == PrivacyRequestStatus.HANDLED:
        raise MemberError(_("This request has already been handled."), code="handled")
    request.status = PrivacyRequestStatus.HANDLED
    request.handled_at = timezone.now()
    request.handled_by = actor if getattr(actor, "pk", None) else None
    request.handling_note = note[:4000]
    request.save(update_fields=["status", "handled_at", "handled_by", "handling_note"])
    audit_record(
        actor=actor,
        action="members.privacy.handled",
        target=request.member,
        branch=request.branch,
        changes={"kind": request.kind, "request": request.pk, "note": note[:500]},
    )
    return request


def privacy_queue(user, *, handled: bool = False) -> QuerySet[PrivacyRequest]:
    """Requests of the user's branches (HQ: every branch): the open ones, oldest deadline
    first; or the handled ones, newest first (downloads included, for the record)."""
    qs = PrivacyRequest.objects.select_related("member", "branch", "handled_by__staff")
    if handled:
        qs = qs.filter(status=PrivacyRequestStatus.HANDLED).order_by("-handled_at", "-id")
    else:
        qs = qs.filter(status=PrivacyRequestStatus.RECEIVED).order_by("deadline", "id")
    return scope_to_branches(qs, user)


def get_privacy_request_for_user(user, pk: int) -> PrivacyRequest:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(
        scope_to_branches(PrivacyRequest.objects.select_related("member", "branch"), user), pk=pk
    )


def member_privacy_requests(member: Member) -> QuerySet[PrivacyRequest]:
    return PrivacyRequest.objects.filter(member=member).order_by("-requested_at", "-id")


# --- the members app's own contribution -----------------------------------------------------

_PROFILE_SHEET = gettext_lazy("Profile")
_MEDICAL_SHEET = gettext_lazy("Medical")


def members_contributor(member: Member, *, medical: bool) -> list[Section]:
    from .exports import LABELS, SHEETS, person_data

    data = person_data(member, medical=medical)
    out = [
        Section("profile", _PROFILE_SHEET, data["profile"], LABELS),
        Section("medical", _MEDICAL_SHEET, data["medical"], LABELS),
    ]
    columns = {
        "consents": ("kind", "channel", "granted_at", "withdrawn_at"),
        "family": ("relative", "relation", "guardian"),
        "communications": ("at", "channel", "direction", "summary"),
    }
    for key, keys in columns.items():
        out.append(Section(key, SHEETS[key], data[key], {k: LABELS[k] for k in keys}))
    requests = [
        {
            "kind": r.get_kind_display(),
            "status": r.get_status_display(),
            "requested_at": local(r.requested_at),
            "deadline": local(r.deadline),
            "handled_at": local(r.handled_at),
            "note": r.handling_note,
        }
        for r in member.privacy_requests.all()
    ]
    out.append(
        Section(
            "privacy_requests",
            gettext_lazy("Privacy requests"),
            requests,
            {
                "kind": gettext_lazy("Request"),
                "status": gettext_lazy("Status"),
                "requested_at": gettext_lazy("Requested at"),
                "deadline": gettext_lazy("Answer by"),
                "handled_at": gettext_lazy("Handled at"),
                "note": gettext_lazy("What was done"),
            },
        )
    )
    return out


def merge_before_move(source: Member, target: Member) -> dict:
    """Merging two records that each have an open deletion request: the source's is closed
    as part of the target's (one open request per person)."""
    if PrivacyRequest.objects.filter(
        member=target, kind=PrivacyRequestKind.ERASURE, status=PrivacyRequestStatus.RECEIVED
    ).exists():
        n = PrivacyRequest.objects.filter(
            member=source, kind=PrivacyRequestKind.ERASURE, status=PrivacyRequestStatus.RECEIVED
        ).update(
            status=PrivacyRequestStatus.HANDLED,
            handled_at=timezone.now(),
            handling_note=_("Merged into the request of record %(pk)s.") % {"pk": target.pk},
        )
        return {"privacy_requests_closed": n}
    return {}


def register_own() -> None:
    register_contributor(Contributor("members", members_contributor, order=0))


def _cell(obj, name: str):
    value = obj
    for part in name.split("__"):
        if value is None:
            return None
        f = None
        try:
            f = type(value)._meta.get_field(part)
        except Exception:
            f = None
        if f is not None and getattr(f, "choices", None):
            value = getattr(value, f"get_{part}_display")()
        else:
            value = getattr(value, part)
            if callable(value):
                value = value()
    if isinstance(value, (dt.datetime, dt.date)):
        return local(value)
    if hasattr(value, "_meta"):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _label(model, name: str):
    path = name.split("__")
    f = None
    for part in path:
        try:
            f = model._meta.get_field(part)
        except Exception:
            return name
        model = f.related_model or model
    return getattr(f, "verbose_name", None) or name


def queryset_section(key: str, queryset, fields: Iterable[str], *, title=None, labels=None) -> Section:
    """A section of one row per object: ``fields`` are field names (``a__b`` follows a
    relation); choices are shown by their label, relations by their name, times in the
    clinic's zone; each column is labelled by the field's translated verbose name."""
    fields = list(fields)
    model = queryset.model
    labels = {**{f: _label(model, f) for f in fields}, **(labels or {})}
    rows = [{f: _cell(obj, f) for f in fields} for obj in queryset]
    return Section(key, title or model._meta.verbose_name_plural, rows, labels)
