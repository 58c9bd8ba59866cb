from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import profile

        profile.register()


def _compile_app_catalogue() -> None:
    """Until the project catalogue in locale/ carries this app's strings (they are handed over
    in var/i18n/loyalty.json), the app ships its own catalogue in loyalty/locale. The .mo
    files are not in git; compile them."""
    import contextlib
    from pathlib import Path

    from clinic.i18n_compile import compile_all

    # A read-only install has the .mo files built with the image.
    with contextlib.suppress(OSError):
        compile_all(Path(__file__).resolve().parent / "locale")


_compile_app_catalogue()
