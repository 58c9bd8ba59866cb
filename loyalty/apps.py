from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clinic.navigation import NavItem, register

        from . import backup_checks, importing, profile

        profile.register()
        importing.register()
        backup_checks.register()
        # Staff navigation, by role (docs/permissions.md): the front desk's rewards screen,
        # marketing's coupon batches, the referral leaderboard.
        register(
            NavItem(
                "loyalty:rewards_desk",
                _("Points rewards"),
                "bi-gift",
                ("loyalty.redeem_reward", "members.view_member"),
                order=30,
                group="benefits",
            )
        )
        register(
            NavItem(
                "loyalty:coupon_batches",
                _("Coupon batches"),
                "bi-ticket-perforated",
                ("loyalty.view_couponbatch",),
                order=40,
                group="benefits",
            )
        )
        register(
            NavItem(
                "loyalty:referral_leaderboard",
                _("Referral leaderboard"),
                "bi-trophy",
                ("loyalty.view_referral",),
                order=45,
                group="benefits",
            )
        )
        register(
            NavItem(
                "loyalty:stored_value_liability",
                _("Stored value liability"),
                "bi-wallet2",
                ("loyalty.view_stored_value_report",),
                order=47,
                group="benefits",
            )
        )

        from . import privacy as _privacy

        _privacy.register()
