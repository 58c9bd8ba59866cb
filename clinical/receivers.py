"""What clinical does when appointments' signals fire (appointments is below clinical)."""

from __future__ import annotations


def _visit_completed(sender, visit, **kwargs) -> None:
    from .services import plans_complete_for_visit

    plans_complete_for_visit(visit=visit)


def connect() -> None:
    from appointments.signals import visit_completed

    visit_completed.connect(_visit_completed, dispatch_uid="clinical.plans_complete")
