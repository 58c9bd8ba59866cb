"""Labels of the reports app's codes (clinic.labels): the job monitor."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import job_names

job_names.register({"reports.rollup_refresh": _("Report daily rollups")})
