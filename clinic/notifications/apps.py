from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "clinic.notifications"
    label = "notifications"
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clinic import navigation

        navigation.register(
            navigation.NavItem(
                "notifications:outbox_list",
                _("Messages"),
                "bi-envelope",
                ("notifications.view_outbox",),
                order=700,
                group="more",
            )
        )
