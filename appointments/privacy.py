"""Appointments' part of a person's copy of their data (members.privacy): bookings, visits,
what was charged (teeth treated only with the medical part) and payments."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from members.privacy import Contributor, queryset_section, register_contributor

from .models import Appointment, ChargeLine, Payment, Visit

_DOCTOR = {"doctor__staff__full_name": _("doctor")}


def contribute(member, *, medical: bool):
    line_fields = ["visit__opened_at", "item", "quantity", "net_amount"]
    if medical:
        line_fields.insert(2, "teeth")
    return [
        queryset_section(
            "appointments",
            Appointment.objects.filter(member=member)
            .select_related("branch", "service", "doctor__staff")
            .order_by("start"),
            ["start", "end", "branch", "service", "doctor__staff__full_name", "status", "channel", "notes"],
            labels=_DOCTOR,
        ),
        queryset_section(
            "visits",
            Visit.objects.filter(member=member)
            .select_related("branch", "doctor__staff")
            .order_by("opened_at"),
            [
                "opened_at",
                "branch",
                "doctor__staff__full_name",
                "status",
                "list_total",
                "discount_total",
                "amount_paid",
                "points_earned",
                "checked_out_at",
            ],
            labels=_DOCTOR,
        ),
        queryset_section(
            "charge_lines",
            ChargeLine.objects.filter(visit__member=member).select_related("visit", "item").order_by("id"),
            line_fields,
            labels={"visit__opened_at": _("visit")},
        ),
        queryset_section(
            "payments",
            Payment.objects.filter(visit__member=member).order_by("at", "id"),
            ["at", "method", "amount"],
        ),
    ]


def register() -> None:
    register_contributor(Contributor("appointments", contribute, order=30))
