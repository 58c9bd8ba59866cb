"""Follow-ups' part of a person's copy of their data (members.privacy): follow-up and care
tasks, recalls, satisfaction surveys and event surveys."""

from __future__ import annotations

from members.privacy import Contributor, queryset_section, register_contributor

from .models import EventSurveyResponse, Recall, SurveyResponse, Task


def contribute(member, *, medical: bool):
    task_fields = ["created_at", "kind", "title", "channel", "due_on", "status", "satisfaction", "closed_at"]
    return [
        queryset_section(
            "followups", Task.objects.filter(member=member).order_by("created_at", "id"), task_fields
        ),
        queryset_section(
            "recalls",
            Recall.objects.filter(member=member).select_related("recall_type", "branch"),
            ["recall_type", "branch", "last_visit_on", "due_on", "is_active"],
        ),
        queryset_section(
            "surveys",
            SurveyResponse.objects.filter(member=member).order_by("answered_at"),
            [
                "answered_at",
                "visit_on",
                "doctor_score",
                "front_desk_score",
                "environment_score",
                "waiting_score",
                "nps",
                "comment",
                "points",
            ],
        ),
        queryset_section(
            "event_surveys",
            EventSurveyResponse.objects.filter(member=member)
            .select_related("campaign")
            .order_by("created_at"),
            [
                "created_at",
                "campaign",
                "overall_score",
                "content_score",
                "organisation_score",
                "nps",
                "comment",
                "points",
            ],
        ),
    ]


def register() -> None:
    register_contributor(Contributor("followups", contribute, order=70))
