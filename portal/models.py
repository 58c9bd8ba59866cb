"""The portal's own rows: SMS log-in codes and WeChat identities.

Neither holds a foreign key to ``members.Member``: a code belongs to a phone number (the same
phone reaches a whole family), and a WeChat openid is bound to a phone, so a merge or an
erasure of a person never has to follow them here.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LoginCode(models.Model):
    """One SMS code asked for on the log-in page. Only its keyed hash is stored; it is good for
    ``PORTAL_CODE_MINUTES`` and ``PORTAL_CODE_TRIES`` tries. The rows are also the rate limit's
    memory (codes per phone and per IP in a window), so they are kept for a day, then purged."""

    phone = models.CharField(_("mobile phone"), max_length=20, db_index=True)
    code_hash = models.CharField(max_length=64, editable=False)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("tries"), default=0)
    consumed_at = models.DateTimeField(_("used at"), null=True, blank=True)
    # False when the phone reaches nobody: the page says the same either way (no one learns
    # which numbers are registered), but no message is sent.
    sent = models.BooleanField(_("sent"), default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("log-in code")
        verbose_name_plural = _("log-in codes")
        default_permissions = ("view",)
        indexes = [models.Index(fields=["ip_address", "-created_at"], name="portal_code_ip_created")]

    def __str__(self) -> str:
        return f"{self.phone[:-4]}****" if len(self.phone) > 4 else self.phone


class WeChatIdentity(models.Model):
    """A WeChat openid (snsapi_base, the clinic's service account) bound to the phone the
    member proved with an SMS code once; later visits from WeChat log in without a code."""

    app_id = models.CharField(_("app id"), max_length=64)
    openid = models.CharField(_("openid"), max_length=128)
    phone = models.CharField(_("mobile phone"), max_length=20)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_login_at = models.DateTimeField(_("last log-in"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("WeChat identity")
        verbose_name_plural = _("WeChat identities")
        default_permissions = ("view", "delete")
        constraints = [
            models.UniqueConstraint(fields=["app_id", "openid"], name="portal_wechat_openid_unique")
        ]

    def __str__(self) -> str:
        return f"{self.openid[:6]}…"
