from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clinic.navigation import NavItem, register

        from . import services, timeline

        register(NavItem("members:list", _("Customers"), "bi-people", ("members.view_member",), order=10))
        register(
            NavItem("members:create", _("New customer"), "bi-person-plus", ("members.add_member",), order=11)
        )
        # In the 市场 dropdown (marketing registers the group; without it the entry stands alone).
        register(
            NavItem("members:tags", _("Tags"), "bi-tags", ("members.view_tag",), order=79, group="marketing")
        )
        register(
            NavItem(
                "members:privacy_queue",
                _("Privacy requests"),
                "bi-shield-lock",
                ("members.handle_privacyrequest",),
                order=85,
                group="more",
            )
        )
        services._register_own_merge_fields()
        timeline.register_defaults()
        checks.register(check_merge_registry, checks.Tags.models)
        from . import privacy
        from .models import PrivacyRequest
        from .registry import register_merge_field

        register_merge_field(PrivacyRequest, "member", before_move=privacy.merge_before_move)
        privacy.register_own()
        checks.register(privacy.check_contributors, checks.Tags.models)


def check_merge_registry(app_configs=None, **kwargs):
    """Every foreign key to Member must be registered for merging, or a merge loses rows."""
    from .registry import unregistered_member_foreign_keys

    return [
        checks.Error(
            f"{name} points at Member but is not registered with members.registry.register_merge_field",
            id="members.E001",
        )
        for name in unregistered_member_foreign_keys()
    ]
