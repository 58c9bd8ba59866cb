from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = _("Clinic")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, labels, navigation, roles  # noqa: F401  (checks registers itself)

        # Later apps add permissions in their own migrations; re-apply the role table after
        # every migrate so the groups always match docs/permissions.md.
        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="clinic.sync_roles")
        from django.contrib.auth.signals import user_logged_in

        from .two_factor import forget_enrolment

        user_logged_in.connect(forget_enrolment, dispatch_uid="clinic.two_factor.forget_enrolment")
        navigation.register_defaults()
        # Every app's labels.py: the translated names of its audit actions, jobs, templates.
        labels.autodiscover()
