"""Admin of follow-up plans (shared configuration, HQ) and dedicated reps (per branch).
Imported from ``FollowupsConfig.ready``."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models

from clinic.admin import AuditedAdmin, BranchScopedAdmin, ClinicTabularInline

from .plan_models import FollowupPlan, FollowupStep, ServiceRep


class FollowupStepInline(ClinicTabularInline):
    model = FollowupStep
    extra = 0
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 36})}}
    fields = [
        "order",
        "title",
        "offset",
        "offset_unit",
        "repeat_times",
        "repeat_every_months",
        "channel",
        "assignee_rule",
        "script",
    ]


@admin.register(FollowupPlan)
class FollowupPlanAdmin(AuditedAdmin):
    list_display = ["name", "item", "category", "is_active"]
    list_filter = ["is_active", "category"]
    search_fields = ["name", "item__name", "category__name"]
    list_select_related = ["item", "category"]
    inlines = [FollowupStepInline]


@admin.register(ServiceRep)
class ServiceRepAdmin(BranchScopedAdmin):
    branch_field = "member__branch"
    list_display = ["member", "rep"]
    list_select_related = ["member", "rep__staff"]
    search_fields = ["member__name", "member__phone_digits"]
    raw_id_fields = ["member"]
