from __future__ import annotations

from .plan_urls import urlpatterns as plan_patterns
from .recall_urls import urlpatterns as recall_patterns

app_name = "followups"

urlpatterns = plan_patterns + recall_patterns
