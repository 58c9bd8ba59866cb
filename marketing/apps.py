from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    """Layer 6 (DESIGN.md §2): consultations and the lead funnel, attribution, referral
    partners (转诊单位) and their rebates; later campaigns, segments and broadcasts. Calls the
    services of the apps below and listens to appointments' signals; nothing below imports it."""

    name = "marketing"
    verbose_name = _("Marketing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from members.registry import register_merge_field

        from . import partner_receivers
        from .merge import attribution_before_move
        from .models import Attribution

        register_merge_field(Attribution, "member", before_move=attribution_before_move)
        register_merge_field(Attribution, "referrer")
        partner_receivers.ready()

        from .consultation_apps import ready as consultations_ready

        consultations_ready()

        from .campaign_apps import ready as campaigns_ready

        campaigns_ready()

        from .broadcast_apps import ready as broadcasts_ready

        broadcasts_ready()

        from . import privacy as _privacy

        _privacy.register()
