"""Core models: branches, staff, the service catalog, the audit log, job heartbeats.

Writes go through ``clinic.services``; nothing here carries business logic in ``save()``.
"""

from __future__ import annotations

import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9_-]{1,15}$",
    _("Use 2–16 capital letters, digits, dashes or underscores."),
)


class Capability(models.Model):
    """Holder of the system-wide permissions that belong to no single table.

    Unmanaged: it has no table, only the permissions that roles are granted (see roles.py).
    """

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("capability")
        verbose_name_plural = _("capabilities")
        permissions = [
            ("view_all_branches", _("See and work with data of all branches")),
            ("reveal_contact", _("Reveal full phone numbers")),
            ("reveal_id_number", _("Reveal full ID numbers")),
            ("view_medical", _("See medical history and allergy alerts")),
            ("export_data", _("Export lists and reports")),
            ("approve_discount", _("Approve manual discounts beyond the tier")),
            ("adjust_points", _("Grant or deduct points manually")),
            ("override_booking", _("Book over an occupied slot")),
        ]

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class LocalizedNameMixin(models.Model):
    """Catalog data carries a Chinese name and an optional English one."""

    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


@pghistory.track()
class Branch(LocalizedNameMixin):
    code = models.CharField(_("code"), max_length=16, unique=True, validators=[code_validator])
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164, e.g. +862168881234"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("branch")
        verbose_name_plural = _("branches")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


@pghistory.track()
class OpeningHours(models.Model):
    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, related_name="opening_hours", verbose_name=_("branch")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["branch", "weekday"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.UniqueConstraint(fields=["branch", "weekday"], name="opening_hours_one_per_day"),
            models.CheckConstraint(
                condition=Q(opens__lt=models.F("closes")), name="opening_hours_opens_before_closes"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class Role(models.TextChoices):
    """The built-in roles. Each is a Django group of the same Chinese name (see roles.py).

    A senior doctor (上级医生) is a doctor who also reviews treatment plans: usually a doctor's
    additional role (``StaffProfile.extra_roles``), or the role of a doctor hired as one.
    """

    FRONT_DESK = "front_desk", _("Front desk")
    CONSULTANT = "consultant", _("Consultant")
    DOCTOR = "doctor", _("Doctor")
    NURSE = "nurse", _("Nurse")
    SENIOR_DOCTOR = "senior_doctor", _("Senior doctor")
    STOCK_KEEPER = "stock_keeper", _("Stock keeper")
    CUSTOMER_SERVICE = "customer_service", _("Customer service")
    MARKETING = "marketing", _("Marketing")
    BRANCH_MANAGER = "branch_manager", _("Branch manager")
    HQ_ADMIN = "hq_admin", _("HQ administrator")


@pghistory.track()
class StaffProfile(models.Model):
    """A user's place in the clinic: role, job title and the branches they work at."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff",
        verbose_name=_("user"),
    )
    full_name = models.CharField(_("full name"), max_length=60)
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    job_title = models.CharField(_("job title"), max_length=60, blank=True)
    branches = models.ManyToManyField(Branch, related_name="staff", verbose_name=_("branches"), blank=True)
    default_branch = models.ForeignKey(
        Branch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default branch"),
    )
    extra_roles = models.ManyToManyField(
        Group,
        related_name="+",
        blank=True,
        verbose_name=_("additional roles"),
        help_text=_("Roles HQ added in admin, or a second job: their permissions add to those of the role."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["full_name"]
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        permissions = [("reset_two_factor", _("Can reset a staff member's two-factor device"))]

    def __str__(self) -> str:
        return self.full_name


@pghistory.track()
class ServiceCategory(LocalizedNameMixin):
    code = models.CharField(_("code"), max_length=16, unique=True, validators=[code_validator])
    is_basic_care = models.BooleanField(
        _("basic care"),
        default=False,
        help_text=_("Tier discounts on basic care apply to this category."),
    )
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("service category")
        verbose_name_plural = _("service categories")


@pghistory.track()
class ServiceItem(LocalizedNameMixin):
    code = models.CharField(_("code"), max_length=16, unique=True, validators=[code_validator])
    category = models.ForeignKey(
        ServiceCategory, on_delete=models.PROTECT, related_name="items", verbose_name=_("category")
    )
    price = models.DecimalField(
        _("price (CNY)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    unit = models.CharField(
        pgettext_lazy("pricing unit", "unit"),
        max_length=16,
        blank=True,
        help_text=_("e.g. per tooth, per visit"),
    )
    duration_minutes = models.PositiveSmallIntegerField(
        _("default duration (minutes)"), default=30, validators=[MinValueValidator(5)]
    )
    per_tooth = models.BooleanField(_("charged per tooth"), default=False)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # HQ opens a service to online booking in the member portal (H5): only services whose
    # length and preparation need no consultation first (cleaning, check-up, review).
    bookable_online = models.BooleanField(
        _("bookable online"),
        default=False,
        help_text=_("Members may book this service themselves in the member portal."),
    )

    class Meta:
        ordering = ["category__sort_order", "code"]
        verbose_name = _("service item")
        verbose_name_plural = _("service items")
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="service_item_price_not_negative"),
            models.CheckConstraint(condition=Q(duration_minutes__gte=5), name="service_item_duration_min_5"),
        ]


class AuditLog(models.Model):
    """One row per action on a person's data, money, points, tiers or permissions, and per
    reveal of protected data. Append-only: a database trigger refuses UPDATE and DELETE."""

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("target type")
    )
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_repr = models.CharField(_("target"), max_length=200, blank=True)
    branch = models.ForeignKey(
        Branch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("branch"),
    )
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["target_type", "target_id", "-at"], name="audit_target_idx"),
            # The admin's branch-scoped changelist: newest rows of the manager's branches.
            models.Index(fields=["branch", "-at"], name="audit_branch_at_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="audit_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        at = timezone.localtime(self.at).strftime("%Y-%m-%d %H:%M") if self.at else ""
        return f"{at} {self.actor_label} {self.action_label}".strip()

    @property
    def actor_label(self) -> str:
        """Who acted: the staff name stored at the time, or 系统 for the system's own jobs
        (stored as "system", see clinic.services._actor_name)."""
        if self.actor_name == "system" and self.actor_id is None:
            return str(_("system"))
        return self.actor_name

    @property
    def action_label(self) -> str:
        """The action in the reader's language (clinic.labels), never the stored code."""
        from .labels import audit_action_label

        return audit_action_label(self.action)


class JobHeartbeat(models.Model):
    """When each periodic job last ran, so staff can see that the worker and beat are alive."""

    name = models.CharField(_("job"), max_length=100, unique=True)
    last_run_at = models.DateTimeField(_("last run"))
    runs = models.PositiveBigIntegerField(_("runs"), default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = _("job heartbeat")
        verbose_name_plural = _("job heartbeats")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The job's name in the reader's language (clinic.labels)."""
        from .labels import job_label

        return job_label(self.name)


class RoleDefaultGrant(models.Model):
    """One default of ``clinic/roles.py`` (ROLE_PERMISSIONS) that was applied to a role.

    The post-migrate sync applies a default only when it has no row here, so a permission HQ
    took from a role in admin is not given back by the next ``migrate``, and a permission a
    new release adds to the defaults reaches the role exactly once.
    """

    group = models.ForeignKey(
        Group, on_delete=models.CASCADE, related_name="default_grants", verbose_name=_("role")
    )
    permission = models.ForeignKey(
        Permission, on_delete=models.CASCADE, related_name="+", verbose_name=_("permission")
    )
    applied_at = models.DateTimeField(_("applied at"), auto_now_add=True)

    class Meta:
        default_permissions = ()
        verbose_name = _("applied default permission")
        verbose_name_plural = _("applied default permissions")
        constraints = [
            models.UniqueConstraint(fields=["group", "permission"], name="role_default_grant_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.group} {self.permission.codename}"


@pghistory.track()
class CalendarDay(models.Model):
    """A branch's own day off the national calendar (clinic.workdays): a closure (renovation,
    a local holiday) or an extra working day. It wins over the statutory calendar."""

    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, related_name="calendar_days", verbose_name=_("branch")
    )
    day = models.DateField(_("date"))
    is_working_day = models.BooleanField(
        _("working day"),
        default=False,
        help_text=_("Ticked: an extra working day. Not ticked: the branch is closed that day."),
    )
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        ordering = ["branch", "day"]
        verbose_name = _("branch calendar day")
        verbose_name_plural = _("branch calendar days")
        constraints = [
            models.UniqueConstraint(fields=["branch", "day"], name="calendar_day_one_per_branch_day"),
        ]

    def __str__(self) -> str:
        kind = _("extra working day") if self.is_working_day else _("closed")
        return f"{self.branch} {self.day:%Y-%m-%d} {kind}"


class BackupStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    OK = "ok", _("Succeeded")
    FAILED = "failed", _("Failed")


class BackupRun(models.Model):
    """One run of the database backup (``clinic.backups``): the heartbeat the home page shows
    to managers and HQ, and, after a restore drill, what the drill found."""

    started_at = models.DateTimeField(_("started at"), db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=BackupStatus.choices, default=BackupStatus.RUNNING
    )
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    size_bytes = models.BigIntegerField(_("size"), default=0)
    encrypted = models.BooleanField(_("encrypted"), default=False)
    # Row count of every table, from the very snapshot pg_dump dumped (the drill compares).
    table_counts = models.JSONField(_("row counts"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    drill_at = models.DateTimeField(_("restore drill at"), null=True, blank=True)
    drill_status = models.CharField(
        _("restore drill status"), max_length=10, choices=BackupStatus.choices, blank=True
    )
    drill_report = models.JSONField(_("restore drill report"), default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("database backup")
        verbose_name_plural = _("database backups")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return self.file_name or str(self.started_at)
