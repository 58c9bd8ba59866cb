"""Follow-ups' recall pages (namespace ``followups``, mounted at ``/followups/``)."""

from __future__ import annotations

from django.urls import path

from . import recall_views, survey_views

urlpatterns: list = [
    path("recalls/", recall_views.recall_list, name="recall_list"),
    path("recalls/<int:pk>/due/", recall_views.recall_due_set, name="recall_due_set"),
    path("satisfaction/", recall_views.satisfaction, name="satisfaction"),
    path("survey/<str:token>/", survey_views.survey, name="survey"),
    path("event-survey/<str:event_token>/", survey_views.event_survey, name="event_survey"),
]
