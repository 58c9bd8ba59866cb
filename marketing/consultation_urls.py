"""Consultations, attribution, the consultant's page and the funnel (namespace ``marketing``)."""

from __future__ import annotations

urlpatterns: list = []
