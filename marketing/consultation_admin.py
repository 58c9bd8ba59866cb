"""Admin of the consultations part: HQ configures the channels; consultations and last touches
are read-only here (they change through the services: the consultant's pages, signals)."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin, BranchScopedReadOnlyAdmin

from .consultation_models import Consultation, ConsultationChannel, VisitTouch


@admin.register(ConsultationChannel)
class ConsultationChannelAdmin(AuditedAdmin):
    # Staff read the names (Chinese and English columns); the code stays on the change form.
    list_display = ["name", "name_en", "acquisition_channel", "sort_order", "is_active"]
    list_editable = ["sort_order", "is_active"]
    search_fields = ["name", "code"]


@admin.register(Consultation)
class ConsultationAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "branch"
    list_display = ["at", "member", "channel", "consultant", "outcome", "next_step_due", "branch"]
    list_filter = ["outcome", "channel"]
    list_select_related = ["member", "channel", "consultant", "branch"]
    date_hierarchy = "at"


@admin.register(VisitTouch)
class VisitTouchAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "visit__branch"
    list_display = ["visit", "member", "channel", "consultant", "partner", "amount", "at", "voided_at"]
    list_select_related = ["visit", "member", "channel", "consultant", "partner"]
