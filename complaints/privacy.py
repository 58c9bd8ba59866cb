"""Complaints' part of a person's copy of their data (members.privacy): their complaints,
what was asked and how each was resolved."""

from __future__ import annotations

from members.privacy import Contributor, queryset_section, register_contributor

from .models import Complaint


def contribute(member, *, medical: bool):
    return [
        queryset_section(
            "complaints",
            Complaint.objects.filter(member=member).select_related("branch").order_by("received_at"),
            [
                "number",
                "received_at",
                "branch",
                "channel",
                "subject",
                "description",
                "expectation",
                "status",
                "resolution",
                "resolved_at",
                "closed_at",
            ],
        )
    ]


def register() -> None:
    register_contributor(Contributor("complaints", contribute, order=80))
