"""Translated labels for the codes the system stores: audit action codes
(``loyalty.points.redeemed``), periodic job names (``loyalty.points_expire``) and message
template keys (``appointments.reminder``). Staff read the label, never the code.

Each app fills the registries in its own ``labels.py`` (found at start-up by
:func:`autodiscover`), so an app that adds a code adds its label beside it;
``tests/clinic/test_labels.py`` fails on a code used in the source that has no label.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext as _

__all__ = [
    "CodeLabels",
    "audit_action_label",
    "audit_actions",
    "autodiscover",
    "job_label",
    "job_names",
    "message_template_label",
    "message_templates",
]


class CodeLabels:
    """One registry: code → lazily translated label, plus pattern rules for families of
    codes (e.g. ``<app>.<model>.changed`` for every configuration model)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._labels: dict[str, Promise | str] = {}
        self._rules: list[Callable[[str], str | None]] = []

    def register(self, labels: Mapping[str, Promise | str]) -> None:
        for code, label in labels.items():
            known = self._labels.get(code)
            if known is not None and str(known) != str(label):
                raise ValueError(f"{self.what} {code!r} is registered twice with different labels")
            self._labels[code] = label

    def register_rule(self, rule: Callable[[str], str | None]) -> None:
        """A function that labels a code it recognises and returns None for the others."""
        self._rules.append(rule)

    def get(self, code: str) -> str | None:
        """The label in the active language, or None for an unknown code."""
        if code in self._labels:
            return str(self._labels[code])
        for rule in self._rules:
            label = rule(code)
            if label is not None:
                return str(label)
        return None

    def label(self, code: str) -> str:
        """The label, or the code itself when none is registered (never an empty cell)."""
        return self.get(code) or code

    def codes(self) -> list[str]:
        return sorted(self._labels)

    def __contains__(self, code: str) -> bool:
        return self.get(code) is not None


audit_actions = CodeLabels("audit action")
# Keys of an audit row's ``changes`` that are not a field of its target (ledger rows, events).
change_keys = CodeLabels("audit change key")
job_names = CodeLabels("periodic job")
message_templates = CodeLabels("message template")

_MODEL_ACTION = re.compile(r"^(?P<app>[a-z_]+)\.(?P<model>[a-z0-9_]+)\.(?P<verb>created|changed|deleted)$")


def _model_action(code: str) -> str | None:
    """``clinic.serviceitem.changed`` (written by clinic.services.record_save/record_delete
    for any configuration model) → 修改了诊疗项目."""
    from django.apps import apps

    match = _MODEL_ACTION.match(code)
    if not match:
        return None
    try:
        model = apps.get_model(match["app"], match["model"])
    except LookupError:
        return None
    verbs = {
        "created": _("Created %(model)s"),
        "changed": _("Changed %(model)s"),
        "deleted": _("Deleted %(model)s"),
    }
    return verbs[match["verb"]] % {"model": model._meta.verbose_name}


audit_actions.register_rule(_model_action)


def audit_action_label(code: str) -> str:
    return audit_actions.label(code)


def job_label(name: str) -> str:
    return job_names.label(name)


def message_template_label(key: str) -> str:
    """The template's name in the reader's language. A key added only in admin (no label in
    code) falls back to the name HQ gave its template rows, then to the key."""
    label = message_templates.get(key)
    if label is not None:
        return label
    from django.utils import translation

    from .notifications.models import MessageTemplate

    names = dict(MessageTemplate.objects.filter(key=key).exclude(name="").values_list("language", "name"))
    lang = translation.get_language() or ""
    return names.get(lang) or next(iter(names.values()), "") or key


def autodiscover() -> None:
    """Import ``<app>.labels`` of every installed app; each fills the registries above."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("labels")


# --- the clinic layer's own codes (this module is clinic's ``labels`` module) -------------

from django.utils.translation import gettext_lazy  # noqa: E402

audit_actions.register(
    {
        "clinic.role.created": gettext_lazy("Role added"),
        "clinic.role.changed": gettext_lazy("Role permissions changed"),
        "clinic.role.deleted": gettext_lazy("Role deleted"),
        "clinic.staff.created": gettext_lazy("Staff member added"),
        "clinic.staff.changed": gettext_lazy("Staff member changed"),
        "clinic.two_factor.enrolled": gettext_lazy("Two-step verification set up"),
        "clinic.two_factor.backup_code_used": gettext_lazy("Backup code used to log in"),
        "clinic.two_factor.backup_codes_renewed": gettext_lazy("New backup codes issued"),
        "clinic.two_factor.disabled": gettext_lazy("Two-step verification turned off"),
        "clinic.two_factor.reset": gettext_lazy("Two-step verification reset by HQ"),
    }
)
job_names.register(
    {"clinic.heartbeat": gettext_lazy("Worker heartbeat"), "clinic.backup": gettext_lazy("Database backup")}
)
change_keys.register(
    {
        "entry": gettext_lazy("ledger entry"),
        "kind": gettext_lazy("kind"),
        "points": gettext_lazy("points"),
        "balance_after": gettext_lazy("balance after"),
        "key": gettext_lazy("idempotency key"),
        "reason": gettext_lazy("reason"),
        "paid": gettext_lazy("paid part"),
        "bonus": gettext_lazy("bonus part"),
        "paid_after": gettext_lazy("paid part after"),
        "bonus_after": gettext_lazy("bonus part after"),
        "rule": gettext_lazy("bonus rule"),
        "source": gettext_lazy("source"),
        "reverses": gettext_lazy("reverses"),
        "shortfall": gettext_lazy("shortfall"),
        "item": gettext_lazy("service"),
        "quantity": gettext_lazy("quantity"),
        "teeth": gettext_lazy("teeth"),
        "price": gettext_lazy("price"),
        "code": gettext_lazy("code"),
        "count": gettext_lazy("count"),
        "rows": gettext_lazy("rows"),
        "field": gettext_lazy("field"),
        "status": gettext_lazy("status"),
        "amount_due": gettext_lazy("amount due"),
        "payments": gettext_lazy("payments"),
        "discounts": gettext_lazy("discounts"),
        "manual_discount": gettext_lazy("manual discount"),
        "refunded": gettext_lazy("refunded"),
        "permissions": gettext_lazy("permissions"),
        "added": gettext_lazy("added"),
        "removed": gettext_lazy("removed"),
    }
)
