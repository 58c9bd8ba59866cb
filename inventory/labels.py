"""Labels of the inventory app's codes (clinic.labels)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, change_keys, job_names, message_templates

audit_actions.register(
    {
        "inventory.stock.receive": _("Stock received"),
        "inventory.stock.use": _("Stock used on a visit"),
        "inventory.stock.transfer_out": _("Stock transferred out"),
        "inventory.stock.transfer_in": _("Stock transferred in"),
        "inventory.stock.return_supplier": _("Stock returned to the supplier"),
        "inventory.stock.write_off": _("Stock written off"),
        "inventory.stock.count": _("Stock-take correction"),
        "inventory.stock.void_return": _("Stock returned from a voided visit"),
        "inventory.report.exported": _("Stock report exported"),
    }
)
change_keys.register(
    {
        "stock_item": _("stock item"),
        "lot": _("lot number"),
        "on_hand": _("on hand"),
        "report": _("report"),
        "format": _("format"),
    }
)
job_names.register({"inventory.alerts": _("Stock alerts (near expiry, low stock)")})
message_templates.register({"inventory.stock_alert": _("Stock alert for the stock keeper")})
