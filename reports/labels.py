"""Labels of the reports app's codes (clinic.labels): the job monitor and the audit log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, job_names

job_names.register(
    {
        "reports.rollup_refresh": _("Report daily rollups"),
        "reports.month_close_due": _("Month close"),
    }
)
audit_actions.register(
    {
        "reports.month.closed": _("Month closed"),
        "reports.exported": _("Report exported"),
    }
)
