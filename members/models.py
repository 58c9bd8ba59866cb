"""The person record (客户档案) and what hangs off it: channels, tags, consents, family links,
the communication log, and import jobs.

Every write goes through ``members.services``. Search columns (pinyin, phone pieces, name
grams) are filled by the services from the name and phone, never typed in.
"""

from __future__ import annotations

import datetime as dt

import pghistory
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch

from .fields import EncryptedTextField
from .idnumbers import mask_id_number


@pghistory.track()
class AcquisitionChannel(models.Model):
    """来源渠道: where a person first heard of the clinic. Managed by HQ in admin."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("acquisition channel")
        verbose_name_plural = _("acquisition channels")

    def __str__(self) -> str:
        return self.name


@pghistory.track()
class Tag(models.Model):
    name = models.CharField(_("name"), max_length=30, unique=True)
    color = models.CharField(
        _("colour"),
        max_length=16,
        default="secondary",
        choices=[
            ("secondary", _("Grey")),
            ("primary", _("Blue")),
            ("success", _("Green")),
            ("warning", _("Yellow")),
            ("danger", _("Red")),
            ("info", _("Cyan")),
        ],
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class Stage(models.TextChoices):
    LEAD = "lead", _("Lead")
    PATIENT = "patient", _("Patient")
    MEMBER = "member", _("Member")


class Gender(models.TextChoices):
    UNKNOWN = "", _("Not given")
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RESTRICTED = "restricted", _("Restricted (PIPL)")
    ERASED = "erased", _("Erased")
    MERGED = "merged", _("Merged into another record")


# Systemic conditions a clinician must see before treatment.
MEDICAL_CONDITIONS = [
    ("hypertension", _("High blood pressure")),
    ("diabetes", _("Diabetes")),
    ("heart", _("Heart disease")),
    ("anticoagulants", _("Takes anticoagulants")),
    ("pregnancy", _("Pregnant")),
    ("infectious", _("Infectious disease")),
    ("bisphosphonates", _("Takes bisphosphonates")),
    ("asthma", _("Asthma")),
]


# Statement-level history triggers: an import's COPY of thousands of rows writes its history
# in one INSERT ... SELECT from the transition table instead of one trigger call per row.
@pghistory.track(
    exclude=["pinyin_full", "pinyin_initials", "name_grams", "phone_digits", "phone_last4"],
    level=pghistory.Statement,
)
class Member(models.Model):
    """One person, from the first enquiry on. ``stage`` moves lead → patient → member."""

    name = models.CharField(_("name"), max_length=50)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    phone = models.CharField(
        _("mobile phone"), max_length=20, blank=True, help_text=_("Family members may share one.")
    )
    other_contacts = models.CharField(_("other contacts"), max_length=200, blank=True)
    wechat_id = models.CharField(_("WeChat ID"), max_length=50, blank=True)
    email = models.CharField(_("e-mail address"), max_length=254, blank=True, db_default="")
    id_number = EncryptedTextField(_("ID number"), blank=True)
    id_number_hash = models.CharField(max_length=64, blank=True, editable=False)
    id_number_masked = models.CharField(max_length=20, blank=True, editable=False)
    address = models.CharField(_("address"), max_length=255, blank=True)
    occupation = models.CharField(_("occupation"), max_length=50, blank=True)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="members", verbose_name=_("home branch")
    )
    served_branches = models.ManyToManyField(
        Branch, related_name="served_members", blank=True, verbose_name=_("also served at")
    )
    channel = models.ForeignKey(
        AcquisitionChannel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("acquisition channel"),
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="consulted_members",
        verbose_name=_("consultant"),
    )
    tags = models.ManyToManyField(Tag, related_name="members", blank=True, verbose_name=_("tags"))
    notes = models.TextField(_("notes"), blank=True)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices, default=Stage.LEAD)
    status = models.CharField(
        _("status"), max_length=12, choices=MemberStatus.choices, default=MemberStatus.ACTIVE
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    card_no = models.CharField(_("card number"), max_length=32, null=True, blank=True)
    marketing_opt_out = models.BooleanField(_("refuses all marketing"), default=False)
    # The channel the person asked to be reached on first (the member portal's profile);
    # empty: the sender's own order (WeChat when known, else SMS).
    preferred_channel = models.CharField(
        _("preferred channel"),
        max_length=10,
        blank=True,
        db_default="",
        default="",
        choices=[("sms", _("SMS")), ("wechat", _("WeChat")), ("email", _("E-mail"))],
    )
    # Medical alerts: encrypted, shown to clinical roles only; the flag is what others see.
    allergies = EncryptedTextField(_("drug allergies"), blank=True)
    conditions = EncryptedTextField(_("systemic conditions"), blank=True)
    dental_history = EncryptedTextField(_("dental history"), blank=True)
    has_medical_alerts = models.BooleanField(_("has medical alerts"), default=False)
    last_visit_at = models.DateTimeField(_("last visit"), null=True, blank=True)
    # From an old system's export (首次就诊日期): recall and dormancy read the first and the
    # last visit; a first visit here is also its first paid Purchase in loyalty.
    first_visit_at = models.DateTimeField(_("first visit"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    restricted_at = models.DateTimeField(_("restricted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    # Search columns, derived by the services.
    phone_digits = models.CharField(max_length=20, blank=True, editable=False)
    phone_last4 = models.CharField(max_length=4, blank=True, editable=False)
    pinyin_full = models.CharField(max_length=200, blank=True, editable=False)
    pinyin_initials = models.CharField(max_length=50, blank=True, editable=False)
    name_grams = ArrayField(models.CharField(max_length=4), default=list, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        permissions = [
            ("import_members", _("Import people from a spreadsheet")),
            ("merge_member", _("Merge duplicate records")),
            ("erase_member", _("Export, erase or restrict a person's data on request")),
        ]
        indexes = [
            GinIndex(OpClass("name", name="gin_trgm_ops"), name="member_name_trgm"),
            GinIndex(OpClass("pinyin_full", name="gin_trgm_ops"), name="member_pinyin_trgm"),
            GinIndex(fields=["name_grams"], name="member_name_grams"),
            models.Index(
                OpClass("pinyin_initials", name="varchar_pattern_ops"), name="member_initials_prefix"
            ),
            models.Index(OpClass("pinyin_full", name="varchar_pattern_ops"), name="member_pinyin_prefix"),
            models.Index(OpClass("phone_digits", name="varchar_pattern_ops"), name="member_phone_prefix"),
            models.Index(fields=["phone_last4"], name="member_phone_last4"),
            models.Index(fields=["phone"], name="member_phone"),
            # Most people have no ID number on file: index only those who do.
            models.Index(fields=["id_number_hash"], condition=~Q(id_number_hash=""), name="member_id_hash"),
            models.Index(fields=["branch", "-created_at"], name="member_branch_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("id")), name="member_not_merged_into_itself"
            ),
            # One index for both uniqueness and the card-number prefix search.
            models.UniqueConstraint(
                fields=["card_no"], name="member_card_no_unique", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def age(self) -> int | None:
        if not self.birth_date:
            return None
        today = timezone.localdate()
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))

    @property
    def is_minor(self) -> bool:
        return self.age is not None and self.age < 18

    @property
    def needs_guardian_consent(self) -> bool:
        """PIPL: personal information of a child under 14 needs a guardian's consent."""
        return self.age is not None and self.age < 14

    @property
    def id_number_display(self) -> str:
        return self.id_number_masked or mask_id_number(self.id_number)

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE

    def condition_labels(self) -> list[str]:
        labels = dict(MEDICAL_CONDITIONS)
        return [str(labels.get(code, code)) for code in self.conditions.split(",") if code]


class ConsentKind(models.TextChoices):
    MARKETING_SMS = "marketing_sms", _("Marketing by SMS")
    MARKETING_WECHAT = "marketing_wechat", _("Marketing by WeChat")
    MARKETING_EMAIL = "marketing_email", _("Marketing by e-mail")
    DATA_SHARING = "data_sharing", _("Sharing data with partners")
    GUARDIAN = "guardian", _("Guardian's consent for a child under 14")


class ConsentChannel(models.TextChoices):
    PAPER = "paper", _("Signed form")
    IN_PERSON = "in_person", _("In person")
    PHONE = "phone", _("Phone")
    WECHAT = "wechat", _("WeChat")
    WEB = "web", _("Web / H5")
    IMPORT = "import", _("Imported")


@pghistory.track()
class Consent(models.Model):
    """A consent as given: what, when, how and who took it. Withdrawal sets ``withdrawn_at``
    and takes effect at once; a new grant is a new row, so the history stays whole."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="consents", verbose_name=_("person")
    )
    kind = models.CharField(_("consent"), max_length=20, choices=ConsentKind.choices)
    channel = models.CharField(_("channel"), max_length=12, choices=ConsentChannel.choices)
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("taken by"),
    )
    guardian = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="guardian_consents",
        verbose_name=_("guardian"),
    )
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("withdrawn by"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind"],
                condition=Q(withdrawn_at__isnull=True),
                name="consent_one_active_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.get_kind_display()}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


class Relation(models.TextChoices):
    PARENT = "parent", _("Parent")
    CHILD = "child", _("Child")
    SPOUSE = "spouse", _("Spouse")
    SIBLING = "sibling", _("Sibling")
    GRANDPARENT = "grandparent", _("Grandparent")
    GRANDCHILD = "grandchild", _("Grandchild")
    OTHER = "other", _("Other relative")

    @classmethod
    def inverse(cls, value: str) -> str:
        return {
            cls.PARENT: cls.CHILD,
            cls.CHILD: cls.PARENT,
            cls.GRANDPARENT: cls.GRANDCHILD,
            cls.GRANDCHILD: cls.GRANDPARENT,
        }.get(value, value)


@pghistory.track()
class FamilyLink(models.Model):
    """``relative`` is ``member``'s <relation> (e.g. relative is member's parent). Links are
    stored in both directions; ``is_guardian`` marks the relative as the member's guardian."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="family_links", verbose_name=_("person")
    )
    relative = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("relative")
    )
    relation = models.CharField(_("relation"), max_length=12, choices=Relation.choices)
    is_guardian = models.BooleanField(_("guardian"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["relation", "id"]
        verbose_name = _("family link")
        verbose_name_plural = _("family links")
        constraints = [
            models.UniqueConstraint(fields=["member", "relative"], name="family_link_unique"),
            models.CheckConstraint(condition=~Q(member=models.F("relative")), name="family_link_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.member} → {self.relative} ({self.get_relation_display()})"


class CommChannel(models.TextChoices):
    PHONE = "phone", _("Phone call")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    IN_PERSON = "in_person", _("Face to face")
    ONLINE = "online", _("Online chat")
    OTHER = "other", _("Other")


class Direction(models.TextChoices):
    INBOUND = "in", _("Inbound")
    OUTBOUND = "out", _("Outbound")


@pghistory.track()
class CommunicationLog(models.Model):
    """沟通记录: one contact with the person. Append-only; corrections are new entries."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="communications", verbose_name=_("person")
    )
    channel = models.CharField(_("channel"), max_length=12, choices=CommChannel.choices)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    summary = models.TextField(_("summary"))
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff"),
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("branch")
    )

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("communication")
        verbose_name_plural = _("communication log")
        indexes = [models.Index(fields=["member", "-at"], name="comm_member_at")]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.at):%Y-%m-%d} {self.get_channel_display()}"


class ImportJob(models.Model):
    """An uploaded spreadsheet: validated into a preview, written only when confirmed.

    Bookkeeping, not tracked by pghistory (its progress counters change every few thousand
    rows); the upload and every committed chunk are in the audit log."""

    class Status(models.TextChoices):
        VALIDATING = "validating", _("Checking")
        MAPPING = "mapping", _("Columns to match")
        PREVIEW = "preview", _("Ready for review")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.VALIDATING)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("processed"), default=0)
    valid_rows = models.PositiveIntegerField(_("valid rows"), default=0)
    imported_rows = models.PositiveIntegerField(_("imported rows"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    preview = models.JSONField(_("preview"), default=list, blank=True)
    message = models.CharField(_("message"), max_length=300, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Rows to create / update / skip, found by the check; and the file's SHA-256, which makes
    # the import's idempotency keys: the same file imported twice credits nothing twice.
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    source_digest = models.CharField(max_length=64, blank=True, editable=False)
    # The column and value mapping this job is read with ({"headers": {header: field or ""},
    # "values": {field: {old value: our value}}}), and the source system it was saved under.
    mapping = models.JSONField(_("mapping"), default=dict, blank=True)
    profile = models.ForeignKey(
        "ImportProfile",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="jobs",
        verbose_name=_("source system"),
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return self.original_name

    @property
    def progress_percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0

    @property
    def is_running(self) -> bool:
        return self.status in {self.Status.VALIDATING, self.Status.IMPORTING}


def medical_retention_until(last_visit: dt.datetime | None) -> dt.date | None:
    """Medical records are kept 15 years after the last visit (医疗机构病历管理规定)."""
    if last_visit is None:
        return None
    day = timezone.localdate(last_visit)
    try:
        return day.replace(year=day.year + 15)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 15, day=28)


class ImportProfile(models.Model):
    """How one old system's export reads (旧系统A): its headers the importer does not know,
    mapped to our fields (or ignored), and its values mapped to ours (old tier names → our
    tiers). Chain-wide: one old system exports the same columns whichever branch runs it, so
    the mapping one branch saved is offered to every branch. Changed only through
    ``members.importer.import_profile_save`` (audited)."""

    name = models.CharField(_("source system"), max_length=60, unique=True)
    headers = models.JSONField(_("column mapping"), default=dict, blank=True)
    values = models.JSONField(_("value mapping"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("import source system")
        verbose_name_plural = _("import source systems")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return self.name


class PrivacyRequestKind(models.TextChoices):
    EXPORT = "export", _("Copy of my data")
    ERASURE = "erasure", _("Deletion of my data")


class PrivacyRequestStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    HANDLED = "handled", _("Handled")


class PrivacyRequest(models.Model):
    """A person's request under PIPL art. 44–47: a copy of their data (handled at once when
    they download it themself) or deletion (a staff queue: a branch manager or HQ handles it
    under the record-retention rules and writes what was done). ``deadline`` is the end of
    the 15th working day after the request (clinic/workdays.py, docs/portal_booking.md).
    Written only through ``members.privacy``."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="privacy_requests", verbose_name=_("person")
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    kind = models.CharField(_("request"), max_length=8, choices=PrivacyRequestKind.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PrivacyRequestStatus.choices,
        default=PrivacyRequestStatus.RECEIVED,
    )
    channel = models.CharField(_("channel"), max_length=12, default="h5", blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    requested_by = models.CharField(_("requested by"), max_length=150, blank=True)
    deadline = models.DateTimeField(_("answer by"))
    reason = models.CharField(_("the person's note"), max_length=500, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    handling_note = models.TextField(_("what was done"), blank=True)

    class Meta:
        ordering = ["status", "deadline", "id"]
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        default_permissions = ("view",)
        permissions = [("handle_privacyrequest", _("Handle people's privacy requests"))]
        indexes = [models.Index(fields=["status", "deadline"], name="privacy_request_queue")]
        constraints = [
            # One open deletion request per person: asking twice is the same request.
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(kind="erasure", status="received"),
                name="privacy_request_one_open_erasure",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.member}"

    @property
    def is_overdue(self) -> bool:
        return self.status == PrivacyRequestStatus.RECEIVED and self.deadline < timezone.now()
