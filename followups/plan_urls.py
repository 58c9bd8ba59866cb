"""Follow-ups' plan pages (namespace ``followups``, mounted at ``/followups/``): the work
list and working a task."""

from __future__ import annotations

from django.urls import path

from . import plan_views

urlpatterns: list = [
    path("", plan_views.worklist, name="worklist"),
    path("reassign/", plan_views.bulk_reassign, name="bulk_reassign"),
    path("tasks/<int:pk>/", plan_views.task_detail, name="task"),
    path("tasks/<int:pk>/attempt/", plan_views.task_attempt, name="task_attempt"),
    path("tasks/<int:pk>/reassign/", plan_views.task_reassign, name="task_reassign"),
    path("tasks/<int:pk>/sms/", plan_views.task_sms, name="task_sms"),
    path("tasks/<int:pk>/close/", plan_views.task_close, name="task_close"),
]
