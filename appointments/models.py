"""Chairs, doctors' shifts, bookings and their reminders, visits with charge lines and payments.

Writes go through ``appointments.services``; nothing here carries business logic in ``save()``.

No double booking is a database rule: two exclusion constraints (btree_gist) refuse two
*active, non-overbooked* bookings of the same doctor, or of the same chair, whose time ranges
overlap. An overbooking made with ``clinic.override_booking`` carries ``overbooked=True`` and
is therefore outside the constraints (see docs/decisions.md, "Appointments").
"""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch, ServiceItem, Weekday
from members.models import Member


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Chair(models.Model):
    """A dental chair (牙椅) of one branch."""

    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="chairs", verbose_name=_("branch")
    )
    code = models.CharField(_("code"), max_length=16)
    name = models.CharField(_("name"), max_length=50)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["branch", "sort_order", "code"]
        verbose_name = _("chair")
        verbose_name_plural = _("chairs")
        constraints = [models.UniqueConstraint(fields=["branch", "code"], name="chair_code_per_branch")]

    def __str__(self) -> str:
        return self.name


@pghistory.track()
class ShiftTemplate(models.Model):
    """A doctor's regular weekly shift at a branch: every ``weekday`` from ``starts`` to ``ends``."""

    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="shift_templates",
        verbose_name=_("doctor"),
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, related_name="shift_templates", verbose_name=_("branch")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    starts = models.TimeField(_("starts"))
    ends = models.TimeField(_("ends"))
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        ordering = ["doctor", "weekday", "starts"]
        verbose_name = _("weekly shift")
        verbose_name_plural = _("weekly shifts")
        constraints = [
            models.CheckConstraint(
                condition=Q(starts__lt=F("ends")), name="shift_template_starts_before_ends"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"


class ExceptionKind(models.TextChoices):
    LEAVE = "leave", _("Leave")
    EXTRA = "extra", _("Extra shift")


@pghistory.track()
class ShiftException(models.Model):
    """One day that differs from the template: leave (the whole day when no times are given)
    or an extra shift."""

    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="shift_exceptions",
        verbose_name=_("doctor"),
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, related_name="shift_exceptions", verbose_name=_("branch")
    )
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=8, choices=ExceptionKind.choices)
    starts = models.TimeField(_("starts"), null=True, blank=True)
    ends = models.TimeField(_("ends"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["date", "starts"]
        verbose_name = _("shift exception")
        verbose_name_plural = _("shift exceptions")
        indexes = [models.Index(fields=["doctor", "date"], name="shift_exception_doctor_date")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(starts__isnull=True) & Q(ends__isnull=True)) | Q(starts__lt=F("ends")),
                name="shift_exception_times",
            ),
            models.CheckConstraint(
                condition=Q(kind="leave") | Q(starts__isnull=False), name="shift_exception_extra_has_times"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    WECHAT = "wechat", _("WeChat")
    WEB = "web", _("Website")
    WALK_IN = "walk_in", _("Walk-in")
    PLATFORM = "platform", _("Third-party platform")
    H5 = "h5", _("Member portal (H5)")


class Status(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CONFIRMED = "confirmed", _("Confirmed")
    ARRIVED = "arrived", _("Arrived")
    IN_TREATMENT = "in_treatment", _("In treatment")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")


# Bookings that hold their doctor and chair. Cancelled and no-show ones free the slot.
ACTIVE_STATUSES = (Status.BOOKED, Status.CONFIRMED, Status.ARRIVED, Status.IN_TREATMENT, Status.COMPLETED)
_HOLDS_SLOT = Q(status__in=[s.value for s in ACTIVE_STATUSES]) & Q(overbooked=False)


class Appointment(models.Model):
    """A booking (预约): person, service, doctor, optional chair, [start, end)."""

    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("branch")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("person")
    )
    service = models.ForeignKey(
        ServiceItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("service")
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("doctor"),
    )
    chair = models.ForeignKey(
        Chair,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        verbose_name=_("chair"),
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=14, choices=Status.choices, default=Status.BOOKED)
    notes = models.TextField(_("notes"), blank=True)
    overbooked = models.BooleanField(_("overbooked"), default=False)
    priority_slot = models.BooleanField(_("held-back priority slot"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    treatment_started_at = models.DateTimeField(_("treatment started at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cancelled by"),
    )
    cancel_reason = models.CharField(_("cancellation reason"), max_length=200, blank=True)
    no_show_at = models.DateTimeField(_("marked no-show at"), null=True, blank=True)

    class Meta:
        ordering = ["start", "id"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        indexes = [
            models.Index(fields=["branch", "start"], name="appt_branch_start"),
            models.Index(fields=["member", "-start"], name="appt_member_start"),
            models.Index(fields=["status", "start"], name="appt_status_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="appointment_starts_before_end"),
            ExclusionConstraint(
                name="appointment_no_doctor_overlap",
                expressions=[
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                    ("doctor", RangeOperators.EQUAL),
                ],
                condition=_HOLDS_SLOT,
            ),
            ExclusionConstraint(
                name="appointment_no_chair_overlap",
                expressions=[
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                    ("chair", RangeOperators.EQUAL),
                ],
                condition=_HOLDS_SLOT & Q(chair__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} {timezone.localtime(self.start):%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class AppointmentEvent(models.Model):
    """Append-only history of a booking: every state change, move and reminder, shown on the
    person's timeline."""

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="events", verbose_name=_("appointment")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="appointment_events", verbose_name=_("person")
    )
    at = models.DateTimeField(_("time"))
    action = models.CharField(_("action"), max_length=32)
    from_status = models.CharField(max_length=14, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=14, blank=True, verbose_name=_("to status"))
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_name = models.CharField(max_length=150, blank=True, verbose_name=_("actor name"))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("appointment event")
        verbose_name_plural = _("appointment events")
        default_permissions = ()
        indexes = [models.Index(fields=["member", "-at"], name="appt_event_member_at")]

    def __str__(self) -> str:
        from .timeline import title

        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M} {title(self.action)}"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    QUEUED = "queued", _("Sent to the outbox")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


class Reminder(models.Model):
    """One reminder of one booking, due at ``due_at``; swept into the outbox by a beat job.

    ``for_start`` is the start it announces: a moved booking gets fresh reminders, and the
    old ones are cancelled. ``dedupe_key`` is also the outbox key, so a re-run sweep never
    queues the same reminder twice.
    """

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("appointment")
    )
    offset_minutes = models.PositiveIntegerField(_("minutes before"))
    due_at = models.DateTimeField(_("due"))
    for_start = models.DateTimeField(_("for the start at"))
    status = models.CharField(
        _("status"), max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    outbox_id = models.BigIntegerField(_("outbox message"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True, verbose_name=_("dedupe key"))

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        default_permissions = ()
        indexes = [
            models.Index(fields=["due_at"], name="reminder_pending_due", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return self.dedupe_key


class VisitStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CHECKED_OUT = "checked_out", _("Checked out")
    VOIDED = "voided", _("Voided")


class Visit(models.Model):
    """A visit (就诊): what was done and charged, and its checkout."""

    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="visits", verbose_name=_("branch")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="visits", verbose_name=_("person")
    )
    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visit",
        verbose_name=_("appointment"),
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visits", verbose_name=_("doctor")
    )
    status = models.CharField(
        _("status"), max_length=12, choices=VisitStatus.choices, default=VisitStatus.OPEN
    )
    opened_at = models.DateTimeField(_("opened at"))
    list_total = models.DecimalField(_("list price total"), max_digits=12, decimal_places=2, default=0)
    discount_total = models.DecimalField(_("discounts"), max_digits=12, decimal_places=2, default=0)
    amount_due = models.DecimalField(_("amount due"), max_digits=12, decimal_places=2, default=0)
    amount_paid = models.DecimalField(_("amount paid"), max_digits=12, decimal_places=2, default=0)
    points_earned = models.IntegerField(_("points earned"), default=0)
    manual_discount = models.DecimalField(_("manual discount"), max_digits=12, decimal_places=2, default=0)
    manual_discount_reason = models.CharField(_("manual discount reason"), max_length=200, blank=True)
    # Why pricing chose as it did (a coupon that replaced the tier discount, or stayed unused
    # because the tier discount was better): shown on the receipt, not a discount row.
    pricing_notes = models.JSONField(_("pricing notes"), default=list, blank=True)
    checkout_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, verbose_name=_("checkout key")
    )
    checked_out_at = models.DateTimeField(_("checked out at"), null=True, blank=True)
    checked_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked out by"),
    )
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("voided by"),
    )
    void_reason = models.CharField(_("void reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        permissions = [
            ("checkout_visit", _("Check out a visit and take payment")),
            ("void_visit", _("Void or refund a checked-out visit")),
        ]
        indexes = [
            models.Index(fields=["branch", "-opened_at"], name="visit_branch_opened"),
            # Reports (revenue, visits, 复诊率, an ad-hoc year) read paid visits by checkout time:
            # covering, so they read the index alone (docs/reports.md).
            models.Index(
                fields=["checked_out_at", "member"],
                include=["branch", "amount_paid"],
                name="visit_paid_cover",
                condition=Q(status="checked_out"),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_due__gte=0), name="visit_amount_due_not_negative"),
            models.CheckConstraint(
                condition=Q(discount_total__lte=F("list_total")), name="visit_discount_within_list"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} {timezone.localtime(self.opened_at):%Y-%m-%d}"


def validate_fdi(value: int) -> None:
    from .fdi import validate_tooth

    validate_tooth(value)


class ChargeLine(models.Model):
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="lines", verbose_name=_("visit"))
    item = models.ForeignKey(
        ServiceItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("service")
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1, validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    teeth = ArrayField(
        models.PositiveSmallIntegerField(validators=[validate_fdi]),
        default=list,
        blank=True,
        verbose_name=_("teeth (FDI)"),
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("doctor")
    )
    list_amount = models.DecimalField(_("list amount"), max_digits=12, decimal_places=2, default=0)
    discount_amount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    net_amount = models.DecimalField(_("net amount"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["id"]
        verbose_name = _("charge line")
        verbose_name_plural = _("charge lines")
        default_permissions = ()
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="charge_line_quantity_positive"),
            models.CheckConstraint(condition=Q(net_amount__gte=0), name="charge_line_net_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.item} ×{self.quantity}"


class DiscountKind(models.TextChoices):
    TIER = "tier", _("Tier discount")
    ALLOWANCE = "allowance", _("Yearly benefit")
    ENTITLEMENT = "entitlement", _("Reward entitlement")
    PROMOTION = "promotion", _("Member-day price")
    COUPON = "coupon", _("Coupon")
    MANUAL = "manual", _("Manual discount")


class VisitDiscount(models.Model):
    """One discount applied at checkout, in the order it was applied (for the receipt)."""

    visit = models.ForeignKey(
        Visit, on_delete=models.CASCADE, related_name="discounts", verbose_name=_("visit")
    )
    line = models.ForeignKey(
        ChargeLine,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="discounts",
        verbose_name=_("charge line"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=DiscountKind.choices)
    label = models.CharField(_("description"), max_length=200)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    ref = models.CharField(max_length=100, blank=True, verbose_name=_("reference"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("visit discount")
        verbose_name_plural = _("visit discounts")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.label} -{self.amount}"


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")
    BANK_CARD = "bank_card", _("Bank card")
    INSURANCE = "insurance", _("Insurance")
    MEMBER_BALANCE = "member_balance", _("Member balance")


class Payment(models.Model):
    """An append-only payment record. A void adds a reversing row (negative amount)."""

    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, related_name="payments", verbose_name=_("visit")
    )
    method = models.CharField(_("payment method"), max_length=16, choices=PaymentMethod.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    at = models.DateTimeField(_("time"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("taken by"),
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.amount}"


class ChargeLineMaterial(models.Model):
    """A material a charge line uses (issue 20): planned from the service's defaults when the
    line is added, editable while the visit is open, taken from stock at checkout (FEFO,
    or the batch chosen, e.g. an implant's lot). A use that spans two batches is two rows.
    ``movement`` is the stock ledger's row; a void puts the units back."""

    line = models.ForeignKey(
        ChargeLine, on_delete=models.CASCADE, related_name="materials", verbose_name=_("charge line")
    )
    item = models.ForeignKey(
        "inventory.Item", on_delete=models.PROTECT, related_name="+", verbose_name=_("stock item")
    )
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    batch = models.ForeignKey(
        "inventory.Batch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("batch"),
    )
    movement = models.OneToOneField(
        "inventory.Movement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("stock movement"),
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("material used")
        verbose_name_plural = _("materials used")
        default_permissions = ()
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="charge_line_material_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} ×{self.quantity}"
