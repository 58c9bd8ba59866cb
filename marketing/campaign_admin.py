"""Admin of campaigns (read-only: every write goes through ``marketing.campaigns``, audited).
Imported by ``marketing.admin``."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import BranchScopedReadOnlyAdmin

from .models import Campaign, CampaignDraw, CampaignSignup


@admin.register(Campaign)
class CampaignAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "branch"
    list_display = ["name", "kind", "branch", "starts_at", "ends_at", "capacity", "budget"]
    list_filter = ["kind"]
    list_select_related = ["branch"]
    search_fields = ["name"]


@admin.register(CampaignSignup)
class CampaignSignupAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "campaign__branch"
    list_display = ["campaign", "member", "status", "signed_up_at", "checked_in_at", "rewarded_at"]
    list_filter = ["status"]
    list_select_related = ["campaign", "member"]
    search_fields = ["campaign__name", "member__name"]


@admin.register(CampaignDraw)
class CampaignDrawAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "campaign__branch"
    list_display = ["campaign", "prize", "seed", "drawn_at", "drawn_by"]
    list_select_related = ["campaign", "drawn_by"]
