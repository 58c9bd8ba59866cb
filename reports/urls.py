from __future__ import annotations

from .dashboard_urls import urlpatterns as dashboard_patterns

app_name = "reports"

urlpatterns = dashboard_patterns
