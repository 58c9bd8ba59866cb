from __future__ import annotations

from .audit_urls import urlpatterns as audit_patterns
from .cashup_urls import urlpatterns as cashup_patterns
from .close_urls import urlpatterns as close_patterns
from .dashboard_urls import urlpatterns as dashboard_patterns
from .export_urls import urlpatterns as export_patterns
from .frontdesk_urls import urlpatterns as frontdesk_patterns
from .hq_urls import urlpatterns as hq_patterns
from .operations_urls import urlpatterns as operations_patterns
from .staff_urls import urlpatterns as staff_patterns

app_name = "reports"

urlpatterns = (
    dashboard_patterns
    + cashup_patterns
    + frontdesk_patterns
    + hq_patterns
    + close_patterns
    + staff_patterns
    + operations_patterns
    + audit_patterns
    + export_patterns
)
