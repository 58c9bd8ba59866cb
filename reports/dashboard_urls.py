"""The dashboard pages (namespace ``reports``, mounted at ``/reports/``)."""

from __future__ import annotations

from django.urls import path

from . import dashboard_views

urlpatterns: list = [
    path("", dashboard_views.branch_dashboard, name="dashboard"),
    path("drill/<slug:code>/", dashboard_views.drilldown, name="drill"),
]
