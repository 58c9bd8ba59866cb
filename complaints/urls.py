"""Complaint pages (namespace ``complaints``, mounted at ``/complaints/``)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "complaints"

urlpatterns = [
    path("", views.complaint_list, name="list"),
    path("new/", views.complaint_new, name="new"),
    path("analysis/", views.complaint_analysis, name="analysis"),
    path("<int:pk>/", views.complaint_detail, name="detail"),
    path("<int:pk>/<slug:step>/", views.complaint_act, name="act"),
    path("make-goods/<int:pk>/<slug:decision>/", views.make_good_decide, name="make_good_decide"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
]
