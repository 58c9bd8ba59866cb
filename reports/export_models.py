"""Export jobs (docs/reports.md, "Exports"): a drill-down list longer than
``REPORTS_EXPORT_INLINE_ROWS`` is written by a Celery job into a file outside the web root,
downloaded by the person who asked for it, and deleted after ``REPORTS_EXPORT_KEEP_DAYS``.

Bookkeeping, not tracked by pghistory (the progress counter changes every few thousand rows);
the request and every download are in the audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch


class ExportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    class Reason(models.TextChoices):
        """Why a job failed: a code, shown translated in the reader's language (never a trace)."""

        NOT_ALLOWED = "not_allowed", _("You may no longer export this list.")
        UNKNOWN_LIST = "unknown_list", _("This list is no longer offered.")
        WRITE_FAILED = "write_failed", _("The file could not be written. Please try again later.")
        INTERRUPTED = "interrupted", _("The export was interrupted. Please start it again.")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("requested by")
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    code = models.CharField(_("list"), max_length=40)
    period = models.CharField(_("period"), max_length=20)
    lo = models.DateField(_("from"))
    hi = models.DateField(_("until (exclusive)"))
    fmt = models.CharField(_("format"), max_length=4)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    # A path relative to the export directory (settings REPORTS_EXPORT_DIR), never under MEDIA.
    file_name = models.CharField(_("file"), max_length=200, blank=True, default="")
    error = models.CharField(_("reason"), max_length=20, choices=Reason.choices, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    purged_at = models.DateTimeField(_("file deleted at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        default_permissions = ("view",)
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="reports_export_by_user")]

    def __str__(self) -> str:
        return f"{self.code} {self.lo:%Y-%m-%d} {self.fmt}"

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def last_day(self):
        import datetime as dt

        return self.hi - dt.timedelta(days=1)

    @property
    def title(self):
        from .drill import title

        return title(self.code)


__all__ = ["ExportJob"]
