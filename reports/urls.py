from __future__ import annotations

from .cashup_urls import urlpatterns as cashup_patterns
from .dashboard_urls import urlpatterns as dashboard_patterns
from .frontdesk_urls import urlpatterns as frontdesk_patterns
from .hq_urls import urlpatterns as hq_patterns

app_name = "reports"

urlpatterns = dashboard_patterns + cashup_patterns + frontdesk_patterns + hq_patterns
