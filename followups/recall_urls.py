"""Follow-ups' recall pages (namespace ``followups``, mounted at ``/followups/``)."""

from __future__ import annotations

urlpatterns: list = []
