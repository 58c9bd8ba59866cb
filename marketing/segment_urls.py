"""Segments and broadcasts (namespace ``marketing``)."""

from __future__ import annotations

from django.urls import path

from . import segment_views as v

urlpatterns: list = [
    path("segments/", v.segment_list, name="segment_list"),
    path("segments/new/", v.segment_create, name="segment_create"),
    path("segments/preview/", v.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", v.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete/", v.segment_delete, name="segment_delete"),
    path("segments/<int:pk>/export.<str:fmt>", v.segment_export, name="segment_export"),
]
