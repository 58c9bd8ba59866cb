"""Consultations, attribution, the consultant's page and the funnel (namespace ``marketing``)."""

from __future__ import annotations

from django.urls import path

from . import consultation_views as views

urlpatterns: list = [
    path("consultations/", views.consult_list, name="consult_list"),
    path("consultations/new/", views.consult_new, name="consult_new"),
    path("consultations/<int:pk>/", views.consult_detail, name="consult_detail"),
    path("consultations/<int:pk>/edit/", views.consult_edit, name="consult_edit"),
    path("consultations/<int:pk>/book/", views.consult_book, name="consult_book"),
    path("consultations/<int:pk>/sms/", views.consult_sms, name="consult_sms"),
    path("consultations/<int:pk>/step-done/", views.consult_step_done, name="consult_step_done"),
    path("consultations/<int:pk>/close/", views.consult_close, name="consult_close"),
    path("me/", views.consult_mine, name="consult_mine"),
    path("me/notices-seen/", views.notices_seen, name="consult_notices_seen"),
    path("funnel/", views.funnel_view, name="consult_funnel"),
    path("funnel/people/", views.funnel_people, name="consult_funnel_people"),
    path("funnel/export/", views.funnel_export, name="consult_funnel_export"),
    path("people/<int:pk>/attribution/", views.attribution_edit, name="consult_attribution"),
]
