"""Labels of the portal's codes (clinic.labels): audit actions, jobs, message templates."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, job_names, message_templates

audit_actions.register(
    {
        "portal.login": _("Member logged in to the portal"),
        "portal.wechat.bound": _("Member bound WeChat to the portal"),
    }
)
job_names.register({"portal.purge_codes": _("Old portal log-in codes removed")})
# A care/service message (purpose "service", not registered as capped): never counted by,
# nor held back by, the marketing contact cap.
message_templates.register({"portal.login_code": _("Portal log-in code")})
