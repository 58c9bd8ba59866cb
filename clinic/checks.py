"""System checks of the clinic layer."""

from __future__ import annotations

from django.core import checks


@checks.register()
def working_day_calendar(app_configs, **kwargs):
    """Tell HQ, on every ``manage.py check`` / runserver, when the statutory calendar of this
    year or the next is missing (clinic.workdays falls back to Monday–Friday). Info, not a
    warning: the deploy check fails on warnings, and a December deploy must not be blocked
    because the State Council has not published next year's holidays yet."""
    from .workdays import missing_years

    return [
        checks.Info(
            f"chinesecalendar has no statutory holidays for {year}: working days of {year} count "
            "Monday to Friday until the package is upgraded.",
            hint="pip install -U chinesecalendar, or enter the holidays as branch closures in admin.",
            id="clinic.I001",
        )
        for year in missing_years()
    ]
