"""Clinical records (layer 5, DESIGN.md §2): the dental chart (FDI), clinical notes with
amendments, attachments, treatment plans with senior review, their execution on visits.

Everything clinical is append-only: a finding is never changed (a later finding on the same
tooth, surface and slot supersedes it, so the chart can be shown as it was on any date), a note
is never rewritten (an amendment row keeps the reason and the new text), a plan that the
patient accepted is never edited (a change makes a new version).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.files.storage import FileSystemStorage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import LazyObject
from django.utils.translation import gettext_lazy as _

from appointments.fdi import validate_tooth
from appointments.models import ChargeLine, Visit
from clinic.models import Branch, LocalizedNameMixin, ServiceCategory, ServiceItem
from members.fields import EncryptedTextField
from members.models import Member

# --- the dental chart --------------------------------------------------------------------------


class Surface(models.TextChoices):
    WHOLE = "", _("Whole tooth")
    MESIAL = "M", _("Mesial (M)")
    OCCLUSAL = "O", _("Occlusal / incisal (O)")
    DISTAL = "D", _("Distal (D)")
    BUCCAL = "B", _("Buccal / labial (B)")
    LINGUAL = "L", _("Lingual / palatal (L)")


class FindingKind(models.TextChoices):
    SOUND = "sound", _("Sound")
    CARIES = "caries", _("Caries")
    FILLED = "filled", _("Filled")
    CROWN = "crown", _("Crown")
    IMPLANT = "implant", _("Implant")
    MISSING = "missing", _("Missing")
    MOBILITY = "mobility", _("Mobility")
    POCKET = "pocket", _("Periodontal pockets")


# A condition (caries, filled, …) replaces the condition recorded before it on the same tooth
# and surface; a measurement (mobility, pocket depths) replaces the last measurement of its kind.
CONDITION_KINDS = frozenset(
    {
        FindingKind.SOUND,
        FindingKind.CARIES,
        FindingKind.FILLED,
        FindingKind.CROWN,
        FindingKind.IMPLANT,
        FindingKind.MISSING,
    }
)
WHOLE_TOOTH_KINDS = frozenset(
    {FindingKind.CROWN, FindingKind.IMPLANT, FindingKind.MISSING, FindingKind.MOBILITY, FindingKind.POCKET}
)
POCKET_SITES = ("MB", "B", "DB", "ML", "L", "DL")


def slot_for(kind: str) -> str:
    return "condition" if kind in CONDITION_KINDS else kind


class ToothFinding(models.Model):
    """One dated observation on one tooth (and surface). Never changed or deleted."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="tooth_findings", verbose_name=_("person")
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    visit = models.ForeignKey(
        Visit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tooth_findings",
        verbose_name=_("visit"),
    )
    tooth = models.PositiveSmallIntegerField(_("tooth (FDI)"), validators=[validate_tooth])
    surface = models.CharField(_("surface"), max_length=1, choices=Surface.choices, blank=True, default="")
    kind = models.CharField(_("finding"), max_length=12, choices=FindingKind.choices)
    slot = models.CharField(max_length=12, editable=False)
    mobility = models.PositiveSmallIntegerField(
        _("mobility grade"), null=True, blank=True, validators=[MaxValueValidator(3)]
    )
    pockets = ArrayField(
        models.PositiveSmallIntegerField(validators=[MaxValueValidator(20)]),
        size=6,
        default=list,
        blank=True,
        verbose_name=_("pocket depths (mm)"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        ordering = ["recorded_at", "id"]
        verbose_name = _("tooth finding")
        verbose_name_plural = _("tooth findings")
        default_permissions = ("add", "view")
        indexes = [
            models.Index(
                fields=["member", "tooth", "surface", "slot", "-recorded_at"], name="clinical_finding_asof"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(tooth__gte=11, tooth__lte=48) | Q(tooth__gte=51, tooth__lte=85),
                name="finding_tooth_fdi",
            ),
            models.CheckConstraint(
                condition=Q(mobility__isnull=True) | Q(mobility__lte=3), name="finding_mobility_0_3"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tooth}{self.surface} {self.get_kind_display()}"


# --- notes -----------------------------------------------------------------------------------

NOTE_FIELDS = ("chief_complaint", "examination", "diagnosis", "treatment", "advice")


class ClinicalNote(models.Model):
    """The record of one visit (病历), encrypted at rest. The original text stays as written;
    ``NoteAmendment`` rows carry every later version with its reason."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="clinical_notes", verbose_name=_("person")
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    visit = models.OneToOneField(
        Visit, on_delete=models.PROTECT, related_name="clinical_note", verbose_name=_("visit")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("written by")
    )
    written_at = models.DateTimeField(_("written at"), default=timezone.now)
    chief_complaint = EncryptedTextField(_("chief complaint"), blank=True)
    examination = EncryptedTextField(_("examination"), blank=True)
    diagnosis = EncryptedTextField(_("diagnosis"), blank=True)
    treatment = EncryptedTextField(_("treatment"), blank=True)
    advice = EncryptedTextField(_("advice"), blank=True)

    class Meta:
        ordering = ["-written_at", "-id"]
        verbose_name = _("clinical note")
        verbose_name_plural = _("clinical notes")
        default_permissions = ("add", "view")

    def __str__(self) -> str:
        return f"{self.member} {timezone.localtime(self.written_at):%Y-%m-%d}"


class NoteAmendment(models.Model):
    """A later version of a note: the full text of every field, the reason, who and when."""

    note = models.ForeignKey(
        ClinicalNote, on_delete=models.PROTECT, related_name="amendments", verbose_name=_("clinical note")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("amended by")
    )
    amended_at = models.DateTimeField(_("amended at"), default=timezone.now)
    reason = EncryptedTextField(_("reason"))
    chief_complaint = EncryptedTextField(_("chief complaint"), blank=True)
    examination = EncryptedTextField(_("examination"), blank=True)
    diagnosis = EncryptedTextField(_("diagnosis"), blank=True)
    treatment = EncryptedTextField(_("treatment"), blank=True)
    advice = EncryptedTextField(_("advice"), blank=True)

    class Meta:
        ordering = ["amended_at", "id"]
        verbose_name = _("note amendment")
        verbose_name_plural = _("note amendments")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.note_id} @ {self.amended_at:%Y-%m-%d}"


# --- attachments -----------------------------------------------------------------------------


class _PrivateStorage(LazyObject):
    """Files under ``CLINICAL_PRIVATE_ROOT``: outside MEDIA_ROOT and static, with no URL."""

    def _setup(self):
        self._wrapped = FileSystemStorage(location=settings.CLINICAL_PRIVATE_ROOT, base_url=None)


private_storage = _PrivateStorage()


def _private_storage():
    return private_storage


class AttachmentKind(models.TextChoices):
    XRAY = "xray", _("X-ray")
    INTRAORAL = "intraoral", _("Intra-oral photo")
    CONSENT = "consent", _("Consent form")
    OTHER = "other", _("Other document")


def _upload_to(instance, filename: str) -> str:
    now = timezone.now()
    return f"{now:%Y/%m}/{instance.member_id}-{now:%H%M%S%f}{instance.extension}"


class ClinicalAttachment(models.Model):
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="clinical_attachments", verbose_name=_("person")
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("visit")
    )
    kind = models.CharField(_("type"), max_length=12, choices=AttachmentKind.choices)
    file = models.FileField(_("file"), upload_to=_upload_to, storage=_private_storage, max_length=200)
    original_name = models.CharField(_("file name"), max_length=150)
    content_type = models.CharField(_("content type"), max_length=100)
    extension = models.CharField(max_length=10, editable=False)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("clinical attachment")
        verbose_name_plural = _("clinical attachments")
        default_permissions = ("add", "view")

    def __str__(self) -> str:
        return self.original_name


# --- treatment plans -------------------------------------------------------------------------


class PlanType(LocalizedNameMixin):
    """A kind of plan HQ configures (种植, 正畸, 综合治疗…); ``needs_review`` sends every plan of
    the type to a senior doctor whatever its value."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    needs_review = models.BooleanField(_("always needs senior review"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("plan type")
        verbose_name_plural = _("plan types")


class ReviewSettings(models.Model):
    """One row: when a plan needs a senior doctor's review (HQ edits it in admin)."""

    threshold = models.DecimalField(
        _("review above (CNY)"),
        max_digits=12,
        decimal_places=2,
        default=20000,
        validators=[MinValueValidator(0)],
        help_text=_("A plan whose quote is above this amount goes to a senior doctor."),
    )
    categories = models.ManyToManyField(
        ServiceCategory,
        blank=True,
        related_name="+",
        verbose_name=_("categories that need review"),
        help_text=_(
            "A plan with any item of these categories (e.g. implants, orthodontics) goes to a senior doctor."
        ),
    )

    class Meta:
        verbose_name = _("plan review settings")
        verbose_name_plural = _("plan review settings")
        default_permissions = ("view", "change")

    def __str__(self) -> str:
        return str(_("Plan review settings"))


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    RETURNED = "returned", _("Returned for changes")
    APPROVED = "approved", _("Ready to present")
    PRESENTED = "presented", _("Presented")
    ACCEPTED = "accepted", _("Accepted")
    COMPLETED = "completed", _("Completed")
    SUPERSEDED = "superseded", _("Replaced by a new version")
    CANCELLED = "cancelled", _("Cancelled")


EDITABLE_STATUSES = (PlanStatus.DRAFT, PlanStatus.RETURNED)


class TreatmentPlan(models.Model):
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="treatment_plans", verbose_name=_("person")
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    plan_type = models.ForeignKey(
        PlanType, on_delete=models.PROTECT, related_name="plans", verbose_name=_("plan type")
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("doctor")
    )
    title = models.CharField(_("title"), max_length=100)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    previous = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="next_version",
        verbose_name=_("previous version"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=PlanStatus.choices, default=PlanStatus.DRAFT
    )
    estimated_weeks = models.PositiveSmallIntegerField(
        _("estimated duration (weeks)"), default=1, validators=[MinValueValidator(1), MaxValueValidator(260)]
    )
    needs_review = models.BooleanField(_("needs senior review"), default=False)
    review_reasons = models.JSONField(default=list, blank=True, editable=False)
    quote_total = models.DecimalField(_("quoted total"), max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    presented_at = models.DateTimeField(_("presented at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acceptance recorded by"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("treatment plan")
        verbose_name_plural = _("treatment plans")
        permissions = [
            ("review_treatmentplan", _("Review treatment plans (senior doctor)")),
            ("trace_patients", _("Trace affected patients")),
        ]
        indexes = [models.Index(fields=["status", "branch"], name="clinical_plan_status")]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class PlanPhase(models.Model):
    plan = models.ForeignKey(
        TreatmentPlan, on_delete=models.CASCADE, related_name="phases", verbose_name=_("treatment plan")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=1)
    name = models.CharField(_("phase"), max_length=60)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("plan phase")
        verbose_name_plural = _("plan phases")
        default_permissions = ()

    def __str__(self) -> str:
        return self.name


class PlanItem(models.Model):
    """A catalogue item of a plan with its teeth. Items sharing an ``alternative_group`` are
    alternatives (implant or bridge): the patient picks one (``chosen``), only it counts."""

    plan = models.ForeignKey(
        TreatmentPlan, on_delete=models.CASCADE, related_name="items", verbose_name=_("treatment plan")
    )
    phase = models.ForeignKey(
        PlanPhase, on_delete=models.CASCADE, related_name="items", verbose_name=_("phase")
    )
    item = models.ForeignKey(
        ServiceItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("service")
    )
    teeth = ArrayField(
        models.PositiveSmallIntegerField(validators=[validate_tooth]),
        default=list,
        blank=True,
        verbose_name=_("teeth (FDI)"),
    )
    quantity = models.PositiveSmallIntegerField(
        _("quantity"), default=1, validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    alternative_group = models.CharField(_("alternative group"), max_length=20, blank=True)
    chosen = models.BooleanField(_("chosen"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["phase__order", "id"]
        verbose_name = _("plan item")
        verbose_name_plural = _("plan items")
        default_permissions = ()
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="plan_item_quantity_positive")
        ]

    def __str__(self) -> str:
        return f"{self.item} ×{self.quantity}"


class ReviewDecision(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted for review")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned with comments")


class PlanReview(models.Model):
    plan = models.ForeignKey(
        TreatmentPlan, on_delete=models.CASCADE, related_name="reviews", verbose_name=_("treatment plan")
    )
    decision = models.CharField(_("decision"), max_length=10, choices=ReviewDecision.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    comment = models.TextField(_("comment"), blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("plan review")
        verbose_name_plural = _("plan reviews")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.plan_id} {self.decision}"


class PlanItemCharge(models.Model):
    """A plan item carried out: the charge line it became on a visit (the link lives here,
    so appointments knows nothing of plans). Removing the line while the visit is open
    removes the link with it."""

    plan_item = models.ForeignKey(
        PlanItem, on_delete=models.PROTECT, related_name="charges", verbose_name=_("plan item")
    )
    charge_line = models.OneToOneField(
        ChargeLine, on_delete=models.CASCADE, related_name="plan_charge", verbose_name=_("charge line")
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.CASCADE, related_name="plan_charges", verbose_name=_("visit")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("plan item charge")
        verbose_name_plural = _("plan item charges")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.plan_item_id} → {self.charge_line_id}"
