from __future__ import annotations

from django.urls import path

from . import views

app_name = "clinical"

urlpatterns = [
    path("members/<int:pk>/chart/", views.chart, name="chart"),
    path("members/<int:pk>/attachments/new/", views.attachment_add, name="attachment_add"),
    path("members/<int:pk>/plans/new/", views.plan_new, name="plan_new"),
    path("visits/<int:pk>/note/", views.visit_note, name="visit_note"),
    path("notes/<int:pk>/", views.note_detail, name="note"),
    path("notes/<int:pk>/amend/", views.note_amend, name="note_amend"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
    path("plans/<int:pk>/", views.plan_detail, name="plan"),
    path("plans/<int:pk>/pdf/", views.plan_pdf, name="plan_pdf"),
    path("plans/<int:pk>/do/<slug:op>/", views.plan_act, name="plan_act"),
    path("review/", views.review_queue, name="review_queue"),
    path("trace/", views.trace, name="trace"),
    path("trace/export/", views.trace_export, name="trace_export"),
]
