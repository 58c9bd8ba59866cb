"""The audit-log page (namespace ``reports``)."""

from __future__ import annotations

from django.urls import path, re_path

from . import audit_views

urlpatterns: list = [
    path("audit-log/", audit_views.audit_log, name="audit_log"),
    re_path(r"^audit-log/export\.(?P<ext>xlsx|csv)$", audit_views.audit_log_export, name="audit_log_export"),
]
