"""Follow-ups' plan pages (namespace ``followups``, mounted at ``/followups/``)."""

from __future__ import annotations

urlpatterns: list = []
