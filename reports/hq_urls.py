"""HQ's every-branch view (namespace ``reports``)."""

from __future__ import annotations

from django.urls import path

from . import hq_views

urlpatterns: list = [path("hq/", hq_views.hq_dashboard, name="hq")]
