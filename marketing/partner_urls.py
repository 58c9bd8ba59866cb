"""Referral partners, their rebates and statements (namespace ``marketing``)."""

from __future__ import annotations

urlpatterns: list = []
