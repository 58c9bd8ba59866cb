"""Admin of recall, care and surveys: HQ's configuration (recall types, holidays, the
settings row) and read-only, branch-scoped views of recalls and survey answers (visits' and
events'). Registered
from ``recall_receivers.connect`` (the app's ``admin.py`` belongs to the follow-up plans)."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin, BranchScopedReadOnlyAdmin

from .models import CareHoliday, CarePolicy, EventSurveyResponse, Recall, RecallType, SurveyResponse


class RecallTypeAdmin(AuditedAdmin):
    list_display = [
        "code",
        "name",
        "interval_months",
        "window_before_days",
        "window_after_days",
        "max_age",
        "is_active",
    ]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "name_en"]
    filter_horizontal = ["trigger_services", "trigger_categories"]


class CareHolidayAdmin(AuditedAdmin):
    list_display = ["name", "calendar", "month", "day", "is_active"]
    list_filter = ["calendar", "is_active"]


class CarePolicyAdmin(AuditedAdmin):
    list_display = [
        "__str__",
        "dormant_months",
        "spend_drop_ratio",
        "reactivation_max_tasks",
        "survey_delay_hours",
    ]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not CarePolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class RecallAdmin(BranchScopedReadOnlyAdmin):
    list_display = ["member", "recall_type", "last_visit_on", "due_on", "manual", "branch", "is_active"]
    list_filter = ["recall_type", "manual", "is_active"]
    search_fields = ["member__name", "member__phone_digits"]
    list_select_related = ["member", "recall_type", "branch"]
    date_hierarchy = "due_on"


class SurveyResponseAdmin(BranchScopedReadOnlyAdmin):
    list_display = [
        "member",
        "doctor",
        "visit_on",
        "doctor_score",
        "front_desk_score",
        "environment_score",
        "waiting_score",
        "nps",
        "is_bad",
    ]
    list_filter = ["is_bad"]
    search_fields = ["member__name"]
    list_select_related = ["member", "doctor"]


class EventSurveyResponseAdmin(BranchScopedReadOnlyAdmin):
    list_display = [
        "member",
        "campaign",
        "overall_score",
        "content_score",
        "organisation_score",
        "nps",
        "is_bad",
        "created_at",
    ]
    list_filter = ["is_bad"]
    search_fields = ["member__name", "campaign__name"]
    list_select_related = ["member", "campaign"]


def register() -> None:
    for model, model_admin in (
        (RecallType, RecallTypeAdmin),
        (CareHoliday, CareHolidayAdmin),
        (CarePolicy, CarePolicyAdmin),
        (Recall, RecallAdmin),
        (SurveyResponse, SurveyResponseAdmin),
        (EventSurveyResponse, EventSurveyResponseAdmin),
    ):
        if not admin.site.is_registered(model):
            admin.site.register(model, model_admin)
