"""The stock alerts panel of the staff home page (clinic.navigation home panels)."""

from __future__ import annotations

from .selectors import branch_alerts


def home_alerts(request) -> dict | None:
    if request.branch is None:
        return None
    alerts = branch_alerts(request.branch)
    return {"alerts": alerts}
