"""Labels of the reports app's codes (clinic.labels): the job monitor, the audit actions (month
close, exports, the cash-up) and the keys of their changes that are not fields of the row."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, change_keys, job_names, message_templates

job_names.register(
    {
        "reports.rollup_refresh": _("Report daily rollups"),
        "reports.month_close_due": _("Month close"),
        "reports.export_files_purge": _("Old export files deleted"),
    }
)
audit_actions.register(
    {
        "reports.month.closed": _("Month closed"),
        "reports.exported": _("Report exported"),
        "reports.export.queued": _("Long report export queued"),
        "reports.cash_count.recorded": _("Cash counted (end-of-day cash-up)"),
        "reports.cash_count.recounted": _("Cash count corrected (end-of-day cash-up)"),
        "reports.day.signed_off": _("Day signed off (end-of-day cash-up)"),
    }
)
change_keys.register(
    {
        "expected_cash": _("expected cash"),
        "counted_cash": _("counted cash"),
        "difference": _("difference"),
    }
)
message_templates.register({"reports.monthly_report": _("Monthly management report (e-mail)")})
