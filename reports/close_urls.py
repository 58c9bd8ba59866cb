"""Closed months (namespace ``reports``)."""

from __future__ import annotations

from django.urls import path

from . import close_views

urlpatterns: list = [
    path("months/", close_views.months, name="months"),
    path("months/<int:year>/<int:month>/", close_views.month, name="month"),
    path("months/<int:year>/<int:month>/close/", close_views.close, name="month_close"),
    path("months/<int:year>/<int:month>/report.pdf", close_views.month_pdf, name="month_pdf"),
]
