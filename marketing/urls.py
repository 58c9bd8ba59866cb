from __future__ import annotations

from .campaign_urls import urlpatterns as campaign_patterns
from .consultation_urls import urlpatterns as consultation_patterns
from .partner_urls import urlpatterns as partner_patterns
from .segment_urls import urlpatterns as segment_patterns

app_name = "marketing"

urlpatterns = campaign_patterns + consultation_patterns + partner_patterns + segment_patterns
