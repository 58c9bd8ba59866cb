"""Rebates follow appointments' signals (sent after commit): ``visit_completed`` accrues,
``visit_voided`` reverses, ``visit_refunded`` reverses in proportion. Both services are idempotent, so a re-delivered signal is harmless.
A failure is logged and never breaks the checkout that sent the signal (it has committed);
``rebates_accrue`` / ``rebates_reverse`` may simply be called again for that visit."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def on_visit_completed(sender, visit, **kwargs) -> None:
    from .rebates import rebates_accrue

    try:
        rebates_accrue(visit=visit)
    except Exception:
        log.exception("rebate accrual failed for visit %s", visit.pk)


def on_visit_voided(sender, visit, **kwargs) -> None:
    from .rebates import rebates_reverse

    try:
        rebates_reverse(visit=visit)
    except Exception:
        log.exception("rebate reversal failed for visit %s", visit.pk)


def on_visit_refunded(sender, visit, amount, refund_key, reason="", **kwargs) -> None:
    from .rebates import rebates_refund

    try:
        rebates_refund(visit=visit, refunded=amount, refund_key=refund_key, note=reason)
    except Exception:
        log.exception("rebate refund failed for visit %s", visit.pk)


def connect() -> None:
    from appointments.signals import visit_completed, visit_refunded, visit_voided

    visit_completed.connect(on_visit_completed, dispatch_uid="marketing.rebates.accrue")
    visit_voided.connect(on_visit_voided, dispatch_uid="marketing.rebates.reverse")
    visit_refunded.connect(on_visit_refunded, dispatch_uid="marketing.rebates.refund")


def ready() -> None:
    """Called from ``MarketingConfig.ready``: the signal listeners and the navigation. The
    partner screens sit in the "marketing" dropdown: an eighth top-level entry would push HQ's
    menu past one row at 1280 px (the navbar's rule, templates/base.html)."""
    from django.utils.translation import gettext_lazy as _

    from clinic.navigation import NavItem, register

    connect()
    for url_name, label, icon, perm, order in (
        ("marketing:partner_list", _("Referral partners"), "bi-building", "marketing.view_partner", 82),
        ("marketing:statement_list", _("Rebate statements"), "bi-receipt", "marketing.view_statement", 83),
        ("marketing:partner_analysis", _("Partner analysis"), "bi-bar-chart", "marketing.view_partner", 84),
    ):
        register(NavItem(url_name, label, icon, (perm,), order=order, group="marketing"))
