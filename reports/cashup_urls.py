"""The end-of-day cash-up pages (namespace ``reports``)."""

from __future__ import annotations

from django.urls import path

from . import cashup_views

urlpatterns: list = [
    path("cashup/", cashup_views.cashup_day, name="cashup"),
    path("cashup/count/", cashup_views.cashup_count, name="cashup_count"),
    path("cashup/sign-off/", cashup_views.cashup_sign_off, name="cashup_sign_off"),
]
