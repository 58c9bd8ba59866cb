from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """Layer 10: the member's own phone (H5). Imports the apps below it, nothing imports it."""

    name = "portal"
    verbose_name = _("Member portal")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import labels, links  # noqa: F401  (labels; the referral link registry)

        links.register()
        from .nav import PortalNavItem, register

        register(PortalNavItem("portal:home", _("Home"), "home", order=10))
        register(PortalNavItem("portal:points", _("Points"), "points", order=20))
        register(PortalNavItem("portal:coupons", _("Coupons"), "coupons", order=30))
        register(PortalNavItem("portal:me", _("Me"), "me", order=90))
        register(PortalNavItem("portal:appointments", _("Appointments"), "appointments", order=30))
        register(PortalNavItem("portal:events", _("Events"), "events", order=50))
