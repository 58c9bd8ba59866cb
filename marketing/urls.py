from __future__ import annotations

from .consultation_urls import urlpatterns as consultation_patterns
from .partner_urls import urlpatterns as partner_patterns

app_name = "marketing"

urlpatterns = consultation_patterns + partner_patterns
