from __future__ import annotations

from django.conf import settings

from .navigation import menu_for
from .selectors import staff_profile


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_menu": [], "languages": settings.LANGUAGES}
    return {
        "nav_menu": menu_for(user),
        "staff_profile": staff_profile(user),
        "active_branch": getattr(request, "branch", None),
        "available_branches": getattr(request, "available_branches", []),
        "languages": settings.LANGUAGES,
    }
