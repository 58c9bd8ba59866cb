from __future__ import annotations

from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.outbox_index, name="outbox_list"),
    path("<int:pk>/", views.outbox_detail, name="outbox_detail"),
    path("<int:pk>/resend/", views.outbox_resend, name="outbox_resend"),
    path("unsubscribe/<str:unsub_token>/", views.unsubscribe, name="unsubscribe"),
    path("inbound/<str:provider>/<str:kind>/<str:inbound_token>/", views.inbound, name="inbound"),
]
