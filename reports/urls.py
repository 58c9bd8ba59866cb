from __future__ import annotations

from .close_urls import urlpatterns as close_patterns
from .dashboard_urls import urlpatterns as dashboard_patterns
from .operations_urls import urlpatterns as operations_patterns
from .staff_urls import urlpatterns as staff_patterns

app_name = "reports"

urlpatterns = dashboard_patterns + close_patterns + staff_patterns + operations_patterns
