"""Clinical records' part of a person's copy of their data (members.privacy): the chart, the
visit notes as they stand now, the attachments (names, not files) and the treatment plans —
all medical content, so only when the copy may carry it (the person themself, or staff who
may read medical records)."""

from __future__ import annotations

from members.privacy import Contributor, queryset_section, register_contributor

from .models import ClinicalAttachment, ClinicalNote, ToothFinding, TreatmentPlan


def contribute(member, *, medical: bool):
    if not medical:
        return []
    return [
        queryset_section(
            "dental_chart",
            ToothFinding.objects.filter(member=member).select_related("branch").order_by("id"),
            ["tooth", "surface", "kind", "mobility", "branch"],
        ),
        queryset_section(
            "clinical_notes",
            ClinicalNote.objects.filter(member=member).select_related("branch").order_by("written_at", "id"),
            ["written_at", "branch", "chief_complaint", "examination", "diagnosis", "treatment", "advice"],
        ),
        queryset_section(
            "clinical_attachments",
            ClinicalAttachment.objects.filter(member=member).order_by("uploaded_at", "id"),
            ["uploaded_at", "kind", "original_name", "size"],
        ),
        queryset_section(
            "treatment_plans",
            TreatmentPlan.objects.filter(member=member).select_related("branch", "plan_type").order_by("id"),
            ["created_at", "branch", "plan_type", "title", "version", "status", "quote_total"],
        ),
    ]


def register() -> None:
    register_contributor(Contributor("clinical", contribute, order=60))
