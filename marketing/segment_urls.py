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

from . import broadcast_views as b  # noqa: E402

urlpatterns += [
    path("broadcasts/", b.broadcast_list, name="broadcast_list"),
    path("broadcasts/new/", b.broadcast_create, name="broadcast_create"),
    path("broadcasts/preview/", b.broadcast_preview, name="broadcast_preview"),
    path("broadcasts/<int:pk>/", b.broadcast_detail, name="broadcast_detail"),
    path("broadcasts/<int:pk>/refresh/", b.broadcast_refresh, name="broadcast_refresh"),
    path("broadcasts/<int:pk>/approve/", b.broadcast_approve, name="broadcast_approve"),
    path("broadcasts/<int:pk>/send/", b.broadcast_send, name="broadcast_send"),
    path("broadcasts/<int:pk>/cancel/", b.broadcast_cancel, name="broadcast_cancel"),
]
