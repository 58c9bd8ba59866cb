"""Tracing (seed 004: 快速追溯到受影响的患者): every person treated under a plan type, by a
doctor, in a date range — and whatever a later app registers (a material batch, from
inventory, wired by the lead after both land).

Extension point: ``register_trace_filter(TraceFilter(...))``. A filter contributes one form
field (``field()``) and ``apply(qs, value)``, which narrows a queryset of
``appointments.ChargeLine`` rows on checked-out visits (e.g. inventory:
``qs.filter(materials_used__batch=value)``). The trace page, the export and the audit row pick
up every registered filter on their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from appointments.models import ChargeLine, VisitStatus
from clinic.phones import mask_phone
from clinic.selectors import scope_to_branches
from clinic.services import audit_record
from members.names import mask_name

from .models import PlanItemCharge, PlanType


@dataclass(frozen=True)
class TraceFilter:
    key: str
    label: str | Promise
    field: Callable[[], forms.Field]
    apply: Callable[[QuerySet, Any], QuerySet]
    order: int = 100


TRACE_FILTERS: dict[str, TraceFilter] = {}


def register_trace_filter(f: TraceFilter) -> None:
    TRACE_FILTERS[f.key] = f


def trace_filters() -> list[TraceFilter]:
    return sorted(TRACE_FILTERS.values(), key=lambda f: f.order)


def _plan_type_field():
    return forms.ModelChoiceField(
        label=_("Plan type"),
        queryset=PlanType.objects.order_by("sort_order", "pk"),
        required=False,
        empty_label=_("Any plan type"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )


def _apply_plan_type(qs, value):
    return qs.filter(
        Exists(PlanItemCharge.objects.filter(charge_line=OuterRef("pk"), plan_item__plan__plan_type=value))
    )


def _doctor_field():
    users = (
        get_user_model()
        .objects.filter(staff__role__in=["doctor", "senior_doctor"])
        .select_related("staff")
        .order_by("staff__full_name")
    )
    field = forms.ModelChoiceField(
        label=_("Doctor"),
        queryset=users,
        required=False,
        empty_label=_("Any doctor"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    field.label_from_instance = lambda u: (
        getattr(getattr(u, "staff", None), "full_name", "") or u.get_username()
    )
    return field


def _apply_doctor(qs, value):
    return qs.filter(doctor=value)


def _batch_field():
    return forms.CharField(
        label=_("Material lot number"),
        required=False,
        max_length=60,
        help_text=_("Everyone whose treatment used this lot (implants, drugs, consumables)."),
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )


def _apply_batch(qs, value):
    # The lots a charge line used are recorded at checkout (appointments.ChargeLineMaterial).
    lot = " ".join(str(value).split())
    return qs.filter(materials__batch__lot_number__iexact=lot).distinct() if lot else qs


def register_defaults() -> None:
    register_trace_filter(
        TraceFilter("plan_type", _("Plan type"), _plan_type_field, _apply_plan_type, order=10)
    )
    register_trace_filter(TraceFilter("doctor", _("Doctor"), _doctor_field, _apply_doctor, order=20))
    register_trace_filter(
        TraceFilter("batch", _("Material lot number"), _batch_field, _apply_batch, order=30)
    )


def trace_lines(user, *, date_from: dt.date, date_to: dt.date, values: dict) -> QuerySet[ChargeLine]:
    """Charge lines of checked-out visits in the user's branches, between the two days (the
    clinic's days), narrowed by every registered filter that has a value."""
    from django.utils import timezone

    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    qs = ChargeLine.objects.filter(
        visit__status=VisitStatus.CHECKED_OUT,
        visit__checked_out_at__gte=start,
        visit__checked_out_at__lt=end,
    )
    qs = scope_to_branches(qs, user, field="visit__branch")
    for f in trace_filters():
        value = values.get(f.key)
        if value not in (None, ""):
            qs = f.apply(qs, value)
    # Only what a row shows: the person's encrypted medical columns are never read here.
    return (
        qs.select_related("visit__member", "item")
        .only(
            "teeth",
            "visit__checked_out_at",
            "visit__member__name",
            "visit__member__phone",
            "item__name",
            "item__name_en",
        )
        .order_by("visit__checked_out_at", "pk")
    )


def trace_rows(qs) -> list[dict]:
    """One row per person: masked name and phone, visits, services, last date."""
    people: dict[int, dict] = {}
    for line in qs:
        member = line.visit.member
        row = people.setdefault(
            member.pk,
            {
                "member": member,
                "name": mask_name(member.name),
                "phone": mask_phone(member.phone),
                "visits": set(),
                "services": [],
                "last": None,
            },
        )
        row["visits"].add(line.visit_id)
        label = line.item.display_name + (f"（{'、'.join(map(str, line.teeth))}）" if line.teeth else "")
        if label not in row["services"]:
            row["services"].append(label)
        row["last"] = line.visit.checked_out_at
    return list(people.values())


@transaction.atomic
def trace_audit(*, actor, filters: dict, count: int, export: bool) -> None:
    audit_record(
        actor=actor,
        action="clinical.trace.exported" if export else "clinical.trace.searched",
        target=None,
        changes={"filters": {k: str(v) for k, v in filters.items() if v not in (None, "")}, "people": count},
    )
