"""The export jobs (namespace ``reports``): a long list's progress and its file."""

from __future__ import annotations

from django.urls import path

from . import export_views

urlpatterns: list = [
    path("exports/<int:pk>/", export_views.export_job, name="export_job"),
    path("exports/<int:pk>/download", export_views.export_download, name="export_download"),
]
