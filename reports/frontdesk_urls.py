"""The front desk's start page (namespace ``reports``)."""

from __future__ import annotations

from django.urls import path

from . import frontdesk_views

urlpatterns: list = [path("front-desk/", frontdesk_views.front_desk, name="frontdesk")]
