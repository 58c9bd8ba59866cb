"""Django admin of the reports app: the export jobs, read-only (the service writes them)."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import BranchScopedReadOnlyAdmin

from .export_models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(BranchScopedReadOnlyAdmin):
    list_display = [
        "created_at",
        "requested_by",
        "branch",
        "code",
        "fmt",
        "status",
        "rows_done",
        "rows_total",
    ]
    list_filter = ["status", "fmt", "branch"]
    list_select_related = ["branch", "requested_by"]
    date_hierarchy = "created_at"
