"""Staff performance (namespace ``reports``)."""

from __future__ import annotations

from django.urls import path, re_path

from . import staff_views

urlpatterns: list = [
    path("staff/", staff_views.performance, name="staff"),
    re_path(r"^staff/export\.(?P<ext>xlsx|csv)$", staff_views.performance_export, name="staff_export"),
]
