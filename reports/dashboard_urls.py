"""The dashboard pages (namespace ``reports``, mounted at ``/reports/``)."""

from __future__ import annotations

from django.urls import path, re_path

from . import dashboard_views

urlpatterns: list = [
    path("", dashboard_views.branch_dashboard, name="dashboard"),
    path("drill/<slug:code>/", dashboard_views.drilldown, name="drill"),
    re_path(
        r"^drill/(?P<code>[-\w]+)/export\.(?P<ext>xlsx|csv)$",
        dashboard_views.drill_export,
        name="drill_export",
    ),
    path("export.xlsx", dashboard_views.dashboard_export, name="dashboard_export"),
]
