"""Every write of complaint handling. Each service owns its transaction, locks the complaint
row (two staff acting at once serialise on it), writes the complaint's own history row
(``ComplaintEvent``, what staff read on the page) and its audit row, in the same transaction.

The state machine (docs/complaints.md):

    received → acknowledged → investigating → proposed → accepted → resolved → closed
                                   ↑______________| rejected by the customer
    resolved / closed → investigating (reopen, with a reason)

Clocks: ``ack_due_at`` and ``proposal_due_at`` are the ends of the n-th working day after
the day of receipt (``clinic.workdays``; n per severity in ``SlaPolicy``). A pause while
waiting on the customer moves the deadlines not yet met on by the working days it lasted.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch, Role
from clinic.money import ZERO, format_cny, to_money
from clinic.notifications.errors import NotificationError
from clinic.notifications.models import Channel as MessageChannel
from clinic.notifications.models import Purpose
from clinic.notifications.services import notification_enqueue
from clinic.phones import normalize_phone
from clinic.roles import GROUP_NAMES
from clinic.services import audit_record
from clinic.workdays import deadline_after, working_days_between

from .errors import ComplaintError
from .models import (
    OPEN_STATUSES,
    Attachment,
    Category,
    Channel,
    Complaint,
    ComplaintEvent,
    ComplaintPause,
    Escalation,
    EscalationLevel,
    EventKind,
    MakeGood,
    MakeGoodKind,
    MakeGoodStatus,
    ReviewFinding,
    RootCause,
    Severity,
    SlaPolicy,
    Status,
)

log = logging.getLogger(__name__)
User = get_user_model()

WORK_PERM = "complaints.work_complaint"
ADD_PERM = "complaints.add_complaint"
APPROVE_PERM = "complaints.approve_makegood"
REVIEW_PERM = "complaints.review_complaint"
ESCALATION_TEMPLATE = "complaints.escalated"

# Attachments: photos and documents only, checked by extension and by their first bytes.
ALLOWED_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".webp": ("image/webp", (b"RIFF",)),
    ".heic": ("image/heic", ()),
    ".pdf": ("application/pdf", (b"%PDF",)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    ".txt": ("text/plain", ()),
    ".m4a": ("audio/mp4", ()),
    ".mp3": ("audio/mpeg", ()),
}


def attachment_max_bytes() -> int:
    return int(getattr(settings, "COMPLAINTS_ATTACHMENT_MAX_MB", 10)) * 1024 * 1024


def make_good_limit() -> Decimal:
    """A make-good worth more than this (CNY) waits for a manager's approval."""
    return to_money(getattr(settings, "COMPLAINTS_MAKE_GOOD_LIMIT", 100))


def points_per_yuan() -> int:
    return max(1, int(getattr(settings, "COMPLAINTS_POINTS_PER_YUAN", 100)))


# --- helpers ---------------------------------------------------------------------------------


def _require(actor, perm: str, message) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise ComplaintError(message, code="forbidden")


def _lock(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_for_update(of=("self",)).select_related("branch").get(pk=complaint.pk)


def _event(complaint: Complaint, kind: str, *, actor, text: str = "", frm: str = "", to: str = "") -> None:
    ComplaintEvent.objects.create(
        complaint=complaint,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        from_status=frm,
        to_status=to,
        text=text,
        at=timezone.now(),
    )


def _audit(actor, action: str, complaint: Complaint, **changes) -> None:
    audit_record(actor=actor, action=action, target=complaint, branch=complaint.branch, changes=changes)


def _text(value: str, field: str, message) -> str:
    value = (value or "").strip()
    if not value:
        raise ComplaintError(message, field=field)
    return value


def sla_for(severity: str) -> tuple[int, int]:
    policy = SlaPolicy.objects.filter(severity=severity).first()
    if policy is None:
        return 1, 3
    return policy.ack_working_days, policy.proposal_working_days


def _transition(
    *, actor, complaint: Complaint, allowed: Iterable[str], to: str, action: str, text: str = "", **fields
) -> Complaint:
    _require(actor, WORK_PERM, _("Your role may not work on complaints."))
    complaint = _lock(complaint)
    if complaint.status not in allowed:
        raise ComplaintError(
            _("This complaint is %(status)s: it cannot go to %(to)s.")
            % {"status": complaint.get_status_display(), "to": Status(to).label},
            code="state",
        )
    frm = complaint.status
    complaint.status = to
    for name, value in fields.items():
        setattr(complaint, name, value)
    complaint.save(update_fields=["status", *fields])
    _event(complaint, EventKind.TRANSITION, actor=actor, text=text, frm=frm, to=to)
    _audit(actor, action, complaint, status=[frm, to], **({"text": text} if text else {}))
    return complaint


# --- intake ----------------------------------------------------------------------------------


def _check_upload(upload: UploadedFile) -> tuple[str, str]:
    name = Path(upload.name or "").name
    ext = Path(name).suffix.lower()
    if ext not in ALLOWED_TYPES:
        raise ComplaintError(
            _("“%(name)s” is not a photo or document we accept (allowed: %(types)s).")
            % {"name": name, "types": ", ".join(sorted(ALLOWED_TYPES))},
            field="attachments",
        )
    if upload.size > attachment_max_bytes():
        raise ComplaintError(
            _("“%(name)s” is %(size)s MB; one file may be at most %(max)s MB.")
            % {
                "name": name,
                "size": round(upload.size / 1024 / 1024, 1),
                "max": attachment_max_bytes() // 1024 // 1024,
            },
            field="attachments",
        )
    content_type, magics = ALLOWED_TYPES[ext]
    if magics:
        upload.seek(0)
        head = upload.read(16)
        upload.seek(0)
        if not any(head.startswith(m) for m in magics):
            raise ComplaintError(
                _("“%(name)s” does not look like a %(ext)s file.") % {"name": name, "ext": ext},
                field="attachments",
            )
    return ext, content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _attach(complaint: Complaint, upload: UploadedFile, *, actor, ext: str, content_type: str) -> Attachment:
    att = Attachment(
        complaint=complaint,
        original_name=Path(upload.name).name[:150],
        content_type=content_type,
        size=upload.size,
        extension=ext,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    # Every file was checked before the first write; a rollback after this leaves at most an
    # unreferenced file under MEDIA_ROOT, never a row without its file.
    att.file.save(att.original_name, upload, save=False)
    att.save()
    return att


@transaction.atomic
def complaint_receive(
    *,
    actor,
    branch: Branch,
    channel: str,
    subject: str,
    description: str,
    category: str,
    severity: str = Severity.NORMAL,
    received_at: dt.datetime | None = None,
    member=None,
    contact_name: str = "",
    contact_phone: str = "",
    expectation: str = "",
    visit=None,
    staff=None,
    attachments: Iterable[UploadedFile] = (),
    source_key: str | None = None,
) -> Complaint:
    """Take a complaint from any channel. Either a person on file or an anonymous contact
    (name and phone). The clocks start at ``received_at`` (default now). A medical dispute
    needs a doctor's review and goes to HQ at once. Attachments are checked before anything
    is written: one bad file and nothing is saved. Idempotent on ``source_key``."""
    if actor is not None:
        _require(actor, ADD_PERM, _("Your role may not take complaints."))
    if source_key:
        existing = Complaint.objects.filter(source_key=source_key).first()
        if existing is not None:
            return existing
    if channel not in Channel.values:
        raise ComplaintError(_("Choose the channel the complaint came through."), field="channel")
    if severity not in Severity.values:
        raise ComplaintError(_("Choose a severity."), field="severity")
    if category not in Category.values:
        raise ComplaintError(_("Choose a category."), field="category")
    subject = _text(subject, "subject", _("Say in a few words what the complaint is about."))[:120]
    description = _text(description, "description", _("Describe what happened."))
    contact_name, contact_phone = (contact_name or "").strip(), (contact_phone or "").strip()
    if member is None and (not contact_name or not contact_phone):
        raise ComplaintError(
            _("Choose the person, or enter the contact's name and phone number."),
            field="contact_phone" if contact_name else "contact_name",
        )
    if contact_phone:
        try:
            contact_phone = normalize_phone(contact_phone)
        except Exception as exc:
            raise ComplaintError(_("Enter a valid phone number."), field="contact_phone") from exc
    if visit is not None and member is not None and visit.member_id != member.pk:
        raise ComplaintError(_("The visit is not this person's."), field="visit")
    if visit is not None and visit.branch_id != branch.pk:
        raise ComplaintError(_("The visit was at another branch."), field="visit")
    checked = [(upload, *_check_upload(upload)) for upload in attachments]
    received_at = received_at or timezone.now()
    if received_at > timezone.now() + dt.timedelta(minutes=5):
        raise ComplaintError(_("The time of receipt cannot be in the future."), field="received_at")
    ack_days, proposal_days = sla_for(severity)
    complaint = Complaint.objects.create(
        branch=branch,
        channel=channel,
        received_at=received_at,
        member=member,
        contact_name=contact_name[:50],
        contact_phone=contact_phone[:20],
        subject=subject,
        description=description,
        expectation=(expectation or "").strip(),
        severity=severity,
        category=category,
        visit=visit,
        staff=staff,
        assignee=actor if getattr(actor, "pk", None) else None,
        ack_due_at=deadline_after(received_at, ack_days, branch=branch),
        proposal_due_at=deadline_after(received_at, proposal_days, branch=branch),
        medical_review_required=severity == Severity.MEDICAL,
        source_key=source_key or None,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    complaint.number = f"TS{timezone.localtime(received_at):%y%m%d}{complaint.pk:04d}"
    complaint.save(update_fields=["number"])
    for upload, ext, content_type in checked:
        _attach(complaint, upload, actor=actor, ext=ext, content_type=content_type)
    _event(complaint, EventKind.TRANSITION, actor=actor, to=Status.RECEIVED, text=Channel(channel).label)
    _audit(
        actor,
        "complaints.complaint.received",
        complaint,
        channel=channel,
        severity=severity,
        category=category,
        member=member.pk if member else None,
        attachments=len(checked),
    )
    if severity == Severity.MEDICAL:
        _escalate(complaint, EscalationLevel.MEDICAL, now=timezone.now())
    return complaint


@transaction.atomic
def attachment_add(*, actor, complaint: Complaint, upload: UploadedFile) -> Attachment:
    _require(actor, WORK_PERM, _("Your role may not work on complaints."))
    complaint = _lock(complaint)
    ext, content_type = _check_upload(upload)
    att = _attach(complaint, upload, actor=actor, ext=ext, content_type=content_type)
    _audit(actor, "complaints.attachment.added", complaint, name=att.original_name, size=att.size)
    return att


# --- the state machine ----------------------------------------------------------------------


def complaint_acknowledge(*, actor, complaint: Complaint, note: str = "") -> Complaint:
    with transaction.atomic():
        return _transition(
            actor=actor,
            complaint=complaint,
            allowed=(Status.RECEIVED,),
            to=Status.ACKNOWLEDGED,
            action="complaints.complaint.acknowledged",
            text=(note or "").strip(),
            acknowledged_at=timezone.now(),
        )


def complaint_investigate(*, actor, complaint: Complaint, note: str = "") -> Complaint:
    with transaction.atomic():
        return _transition(
            actor=actor,
            complaint=complaint,
            allowed=(Status.ACKNOWLEDGED,),
            to=Status.INVESTIGATING,
            action="complaints.complaint.investigating",
            text=(note or "").strip(),
        )


def complaint_propose(*, actor, complaint: Complaint, resolution: str) -> Complaint:
    """The proposal to the customer. A medical dispute needs its review recorded first."""
    resolution = _text(resolution, "resolution", _("Describe the proposed resolution."))
    with transaction.atomic():
        locked = _lock(complaint)
        if locked.medical_review_required and not locked.review_finding:
            raise ComplaintError(
                _("A medical dispute needs the doctor's review before a resolution is proposed."),
                code="review",
            )
        return _transition(
            actor=actor,
            complaint=locked,
            allowed=(Status.INVESTIGATING,),
            to=Status.PROPOSED,
            action="complaints.complaint.proposed",
            text=resolution,
            resolution=resolution,
            proposed_at=locked.proposed_at or timezone.now(),
        )


def complaint_accept(*, actor, complaint: Complaint, note: str = "") -> Complaint:
    with transaction.atomic():
        return _transition(
            actor=actor,
            complaint=complaint,
            allowed=(Status.PROPOSED,),
            to=Status.ACCEPTED,
            action="complaints.complaint.accepted",
            text=(note or "").strip(),
        )


def complaint_reject(*, actor, complaint: Complaint, reason: str) -> Complaint:
    """The customer does not accept the proposal: back to investigating, with their reason."""
    reason = _text(reason, "reason", _("Write down why the customer does not accept it."))
    with transaction.atomic():
        return _transition(
            actor=actor,
            complaint=complaint,
            allowed=(Status.PROPOSED,),
            to=Status.INVESTIGATING,
            action="complaints.complaint.rejected",
            text=reason,
        )


def complaint_resolve(*, actor, complaint: Complaint, note: str = "") -> Complaint:
    with transaction.atomic():
        locked = _lock(complaint)
        if locked.make_goods.filter(status=MakeGoodStatus.PENDING).exists():
            raise ComplaintError(_("A make-good is still waiting for approval."), code="pending_make_good")
        if locked.is_paused:
            raise ComplaintError(
                _("The complaint is waiting on the customer: resume it first."), code="paused"
            )
        return _transition(
            actor=actor,
            complaint=locked,
            allowed=(Status.ACCEPTED,),
            to=Status.RESOLVED,
            action="complaints.complaint.resolved",
            text=(note or "").strip(),
            resolved_at=timezone.now(),
        )


def complaint_close(
    *,
    actor,
    complaint: Complaint,
    satisfaction: int,
    root_cause: str,
    corrective_action: str,
    lessons: str = "",
    note: str = "",
) -> Complaint:
    """Close after the follow-up call: the customer's satisfaction, and the closing review
    (root cause, corrective action, lessons) that the analysis and appraisal read."""
    if not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5:
        raise ComplaintError(_("Record the customer's satisfaction, 1 to 5."), field="satisfaction")
    if root_cause not in RootCause.values:
        raise ComplaintError(_("Choose the root cause."), field="root_cause")
    corrective_action = _text(corrective_action, "corrective_action", _("Describe the corrective action."))
    with transaction.atomic():
        return _transition(
            actor=actor,
            complaint=complaint,
            allowed=(Status.RESOLVED,),
            to=Status.CLOSED,
            action="complaints.complaint.closed",
            text=(note or "").strip(),
            satisfaction=satisfaction,
            root_cause=root_cause,
            corrective_action=corrective_action,
            lessons=(lessons or "").strip(),
            closed_at=timezone.now(),
        )


def complaint_reopen(*, actor, complaint: Complaint, reason: str) -> Complaint:
    reason = _text(reason, "reason", _("Give the reason for reopening."))
    with transaction.atomic():
        locked = _lock(complaint)
        return _transition(
            actor=actor,
            complaint=locked,
            allowed=(Status.RESOLVED, Status.CLOSED),
            to=Status.INVESTIGATING,
            action="complaints.complaint.reopened",
            text=reason,
            reopen_count=locked.reopen_count + 1,
            resolved_at=None,
            closed_at=None,
        )


# --- pauses, notes, assignment, review ------------------------------------------------------


@transaction.atomic
def complaint_pause(*, actor, complaint: Complaint, reason: str) -> ComplaintPause:
    """Waiting on the customer (a document, a call back): the clocks stop until resumed."""
    _require(actor, WORK_PERM, _("Your role may not work on complaints."))
    reason = _text(reason, "reason", _("Say what you are waiting for."))[:200]
    complaint = _lock(complaint)
    if complaint.status not in OPEN_STATUSES:
        raise ComplaintError(_("Only an open complaint can wait on the customer."), code="state")
    if complaint.is_paused:
        raise ComplaintError(_("The complaint is already waiting on the customer."), code="paused")
    now = timezone.now()
    pause = ComplaintPause.objects.create(complaint=complaint, started_at=now, reason=reason)
    complaint.paused_at = now
    complaint.save(update_fields=["paused_at"])
    _event(complaint, EventKind.PAUSE, actor=actor, text=reason)
    _audit(actor, "complaints.complaint.paused", complaint, reason=reason)
    return pause


def _extend(deadline: dt.datetime, days: int, branch) -> dt.datetime:
    # ``deadline`` is the midnight ending a working day: move to the end of the ``days``-th
    # working day after that day.
    last_day = timezone.localtime(deadline) - dt.timedelta(microseconds=1)
    return deadline_after(last_day, days, branch=branch)


@transaction.atomic
def complaint_resume(*, actor, complaint: Complaint, note: str = "") -> ComplaintPause:
    _require(actor, WORK_PERM, _("Your role may not work on complaints."))
    complaint = _lock(complaint)
    pause = (
        ComplaintPause.objects.select_for_update().filter(complaint=complaint, ended_at__isnull=True).first()
    )
    if pause is None:
        raise ComplaintError(_("The complaint is not waiting on the customer."), code="state")
    now = timezone.now()
    days = working_days_between(pause.started_at, now, branch=complaint.branch)
    pause.ended_at, pause.working_days = now, days
    pause.save(update_fields=["ended_at", "working_days"])
    fields = ["paused_at"]
    complaint.paused_at = None
    if days:
        if complaint.acknowledged_at is None:
            complaint.ack_due_at = _extend(complaint.ack_due_at, days, complaint.branch)
            fields.append("ack_due_at")
        if complaint.proposed_at is None:
            complaint.proposal_due_at = _extend(complaint.proposal_due_at, days, complaint.branch)
            fields.append("proposal_due_at")
    complaint.save(update_fields=fields)
    text = (note or "").strip()
    _event(complaint, EventKind.RESUME, actor=actor, text=text)
    _audit(actor, "complaints.complaint.resumed", complaint, working_days=days)
    return pause


@transaction.atomic
def complaint_note_add(*, actor, complaint: Complaint, text: str, statement: bool = False) -> ComplaintEvent:
    """An investigation note, or a statement (of the customer, of the staff concerned)."""
    _require(actor, WORK_PERM, _("Your role may not work on complaints."))
    text = _text(text, "text", _("Write the note first."))
    complaint = _lock(complaint)
    kind = EventKind.STATEMENT if statement else EventKind.NOTE
    _event(complaint, kind, actor=actor, text=text)
    _audit(actor, f"complaints.complaint.{kind}", complaint)
    return complaint.events.order_by("-id").first()


@transaction.atomic
def complaint_assign(*, actor, complaint: Complaint, assignee) -> Complaint:
    _require(actor, WORK_PERM, _("Your role may not work on complaints."))
    complaint = _lock(complaint)
    if (
        not assignee.has_perm(WORK_PERM)
        or not assignee.staff.branches.filter(pk=complaint.branch_id).exists()
    ):
        raise ComplaintError(_("Choose someone of this branch who works on complaints."), field="assignee")
    if complaint.staff_id == assignee.pk:
        raise ComplaintError(_("A complaint cannot go to the person it is about."), field="assignee")
    old = complaint.assignee_id
    complaint.assignee = assignee
    complaint.save(update_fields=["assignee"])
    _event(complaint, EventKind.ASSIGNED, actor=actor, text=assignee.staff.full_name)
    _audit(actor, "complaints.complaint.assigned", complaint, assignee=[old, assignee.pk])
    return complaint


@transaction.atomic
def complaint_request_review(*, actor, complaint: Complaint, reviewer) -> Complaint:
    """Ask a doctor (with ``complaints.review_complaint``) to review a medical dispute (seed
    003: 确定是否存在医疗过错). The reviewer then sees this complaint, and only those asked."""
    _require(actor, WORK_PERM, _("Your role may not work on complaints."))
    complaint = _lock(complaint)
    if not reviewer.has_perm(REVIEW_PERM):
        raise ComplaintError(_("Choose a doctor who may review medical disputes."), field="reviewer")
    if complaint.staff_id == reviewer.pk:
        raise ComplaintError(_("The doctor complained about cannot review the complaint."), field="reviewer")
    complaint.reviewer = reviewer
    complaint.medical_review_required = True
    complaint.save(update_fields=["reviewer", "medical_review_required"])
    name = getattr(getattr(reviewer, "staff", None), "full_name", reviewer.get_username())
    _event(complaint, EventKind.REVIEW, actor=actor, text=_("Review asked of %(name)s") % {"name": name})
    _audit(actor, "complaints.review.requested", complaint, reviewer=reviewer.pk)
    return complaint


@transaction.atomic
def complaint_review_record(*, actor, complaint: Complaint, finding: str, note: str) -> Complaint:
    if actor is None or not actor.has_perm(REVIEW_PERM):
        raise ComplaintError(_("Your role may not review medical disputes."), code="forbidden")
    complaint = _lock(complaint)
    if complaint.reviewer_id != actor.pk:
        raise ComplaintError(_("Only the doctor asked may record the review."), code="forbidden")
    if finding not in ReviewFinding.values:
        raise ComplaintError(_("Choose the finding."), field="finding")
    note = _text(note, "note", _("Explain the finding."))
    complaint.review_finding, complaint.review_note, complaint.reviewed_at = finding, note, timezone.now()
    complaint.save(update_fields=["review_finding", "review_note", "reviewed_at"])
    _event(complaint, EventKind.REVIEW, actor=actor, text=f"{ReviewFinding(finding).label}: {note}")
    _audit(actor, "complaints.review.recorded", complaint, finding=finding)
    return complaint


# --- escalation ------------------------------------------------------------------------------


def branch_managers(branch: Branch) -> list:
    return list(
        User.objects.filter(
            is_active=True, staff__branches=branch, groups__name=GROUP_NAMES[Role.BRANCH_MANAGER]
        )
        .distinct()
        .order_by("pk")
    )


def hq_admins() -> list:
    return list(
        User.objects.filter(is_active=True, groups__name=GROUP_NAMES[Role.HQ_ADMIN]).distinct().order_by("pk")
    )


def _recipients(complaint: Complaint, level: str) -> list:
    if level == EscalationLevel.ACK_OVERDUE:
        people = branch_managers(complaint.branch)
    elif level == EscalationLevel.PROPOSAL_OVERDUE:
        people = branch_managers(complaint.branch) + hq_admins()
    else:
        people = hq_admins()
    # Never tell the person the complaint is about.
    seen, result = set(), []
    for person in people:
        if person.pk not in seen and person.pk != complaint.staff_id:
            seen.add(person.pk)
            result.append(person)
    return result


def _escalate(complaint: Complaint, level: str, *, now: dt.datetime) -> Escalation | None:
    """In the caller's transaction: record the level once (a unique key) and notify."""
    try:
        with transaction.atomic():
            row = Escalation.objects.create(complaint=complaint, level=level, at=now)
    except IntegrityError:
        return None
    people = _recipients(complaint, level)
    row.notified = [p.pk for p in people]
    row.save(update_fields=["notified"])
    _event(complaint, EventKind.ESCALATED, actor=None, text=str(EscalationLevel(level).label))
    _audit(None, "complaints.complaint.escalated", complaint, level=level, to=row.notified)
    for person in people:
        if not person.email:
            continue
        try:
            notification_enqueue(
                channel=MessageChannel.EMAIL,
                recipient=person.email,
                template_key=ESCALATION_TEMPLATE,
                params={
                    "name": getattr(getattr(person, "staff", None), "full_name", person.get_username()),
                    "number": complaint.number or str(complaint.pk),
                    "subject": complaint.subject,
                    "branch": complaint.branch.name,
                    "level": str(EscalationLevel(level).label),
                },
                purpose=Purpose.SERVICE,
                dedupe_key=f"complaints:{complaint.pk}:{level}:{person.pk}",
                branch=complaint.branch,
            )
        except NotificationError as exc:
            log.error("complaint escalation notice to %s failed: %s", person.pk, exc.message)
    return row


@transaction.atomic
def complaint_escalate(
    *, complaint: Complaint, level: str, now: dt.datetime | None = None
) -> Escalation | None:
    """Escalate one complaint to ``level``, once: None when it was escalated to it before."""
    complaint = _lock(complaint)
    return _escalate(complaint, level, now=now or timezone.now())


def complaints_escalate_overdue(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The 15-minute sweep: open complaints not waiting on the customer whose acknowledgement
    or proposal deadline has passed go up (the manager; then the manager and HQ); a medical
    dispute not yet escalated goes to HQ. Each level once per complaint (unique key), so a
    second run changes nothing. Returns counts per level."""
    now = now or timezone.now()
    counts = dict.fromkeys(EscalationLevel.values, 0)
    base = Complaint.objects.filter(status__in=OPEN_STATUSES, paused_at__isnull=True)
    sweeps = [
        (
            EscalationLevel.ACK_OVERDUE,
            base.filter(acknowledged_at__isnull=True, ack_due_at__lte=now),
        ),
        (
            EscalationLevel.PROPOSAL_OVERDUE,
            base.filter(proposed_at__isnull=True, proposal_due_at__lte=now),
        ),
        (
            EscalationLevel.MEDICAL,
            Complaint.objects.filter(status__in=OPEN_STATUSES, severity=Severity.MEDICAL),
        ),
    ]
    for level, qs in sweeps:
        ids = qs.exclude(escalations__level=level).values_list("pk", flat=True)
        for pk in list(ids):
            with transaction.atomic():
                complaint = Complaint.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
                if complaint is None:
                    continue
                if _escalate(complaint, level, now=now) is not None:
                    counts[level] += 1
    return counts


# --- make-good -------------------------------------------------------------------------------


def _coupon_value(template) -> Decimal | None:
    from loyalty.coupon_models import CouponKind

    if template.kind == CouponKind.AMOUNT:
        return to_money(template.amount_off)
    if template.kind == CouponKind.FREE_ITEM and template.free_item_id:
        return to_money(template.free_item.price)
    if template.cap is not None:
        return to_money(template.cap)
    return None  # a percentage without a cap: its worth is open, so a manager decides


@transaction.atomic
def make_good_request(
    *,
    actor,
    complaint: Complaint,
    kind: str,
    coupon_template=None,
    points: int = 0,
    amount: Decimal | None = None,
    note: str = "",
) -> MakeGood:
    """Offer a coupon, points or a partial refund of the related visit. Up to the limit
    (``COMPLAINTS_MAKE_GOOD_LIMIT``) a coupon or points is given at once; above it, or any
    refund, it waits for a manager (``complaints.approve_makegood``) unless the actor is one."""
    _require(actor, WORK_PERM, _("Your role may not work on complaints."))
    complaint = _lock(complaint)
    if complaint.status not in OPEN_STATUSES:
        raise ComplaintError(_("Only an open complaint can get a make-good."), code="state")
    if kind in (MakeGoodKind.COUPON, MakeGoodKind.POINTS) and complaint.member_id is None:
        raise ComplaintError(_("A coupon or points need a person on file."), field="kind")
    value: Decimal | None
    if kind == MakeGoodKind.COUPON:
        if coupon_template is None:
            raise ComplaintError(_("Choose the coupon."), field="coupon_template")
        value = _coupon_value(coupon_template)
        points, amount = 0, ZERO
    elif kind == MakeGoodKind.POINTS:
        if not isinstance(points, int) or points <= 0:
            raise ComplaintError(_("Enter a whole number of points greater than zero."), field="points")
        value = to_money(Decimal(points) / points_per_yuan())
        coupon_template, amount = None, ZERO
    elif kind == MakeGoodKind.REFUND:
        if complaint.visit_id is None:
            raise ComplaintError(_("A refund needs the related visit."), field="kind")
        amount = to_money(amount or 0)
        if amount <= 0:
            raise ComplaintError(_("Enter the amount to refund."), field="amount")
        value, coupon_template, points = amount, None, 0
    else:
        raise ComplaintError(_("Choose a coupon, points or a refund."), field="kind")
    make_good = MakeGood.objects.create(
        complaint=complaint,
        kind=kind,
        coupon_template=coupon_template,
        points=points,
        amount=amount,
        value=value if value is not None else ZERO,
        note=(note or "").strip()[:200],
        status=MakeGoodStatus.PENDING,
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    needs_approval = kind == MakeGoodKind.REFUND or value is None or value > make_good_limit()
    text = _("%(kind)s worth %(value)s requested") % {
        "kind": MakeGoodKind(kind).label,
        "value": format_cny(make_good.value) if value is not None else "—",
    }
    _event(complaint, EventKind.MAKE_GOOD, actor=actor, text=text)
    _audit(actor, "complaints.make_good.requested", complaint, kind=kind, value=make_good.value)
    if not needs_approval or (actor is not None and actor.has_perm(APPROVE_PERM)):
        _give(make_good, actor=actor, complaint=complaint)
    return make_good


def _give(make_good: MakeGood, *, actor, complaint: Complaint) -> None:
    key = f"complaint:{complaint.pk}:make_good:{make_good.pk}"
    reason = _("Complaint %(number)s") % {"number": complaint.number}
    if make_good.kind == MakeGoodKind.COUPON:
        from loyalty.coupons import coupon_issue

        make_good.coupon = coupon_issue(
            actor=actor,
            template=make_good.coupon_template,
            member=complaint.member,
            reason=reason,
            issue_key=key,
            system=True,
        )
    elif make_good.kind == MakeGoodKind.POINTS:
        from loyalty.services import points_earn

        points_earn(
            actor=actor,
            member=complaint.member,
            points=make_good.points,
            idempotency_key=key,
            source_key=f"complaint:{complaint.pk}",
            reason=reason,
        )
    else:
        from appointments.checkout import visit_refund

        visit_refund(actor=actor, visit=complaint.visit, amount=make_good.amount, reason=reason)
    make_good.status, make_good.given_at = MakeGoodStatus.GIVEN, timezone.now()
    if actor is not None and actor.has_perm(APPROVE_PERM):
        make_good.approved_by = actor
    make_good.save(update_fields=["status", "given_at", "approved_by", "coupon"])
    _event(
        complaint,
        EventKind.MAKE_GOOD,
        actor=actor,
        text=_("%(kind)s worth %(value)s given")
        % {"kind": make_good.get_kind_display(), "value": format_cny(make_good.value)},
    )
    _audit(actor, "complaints.make_good.given", complaint, kind=make_good.kind, value=make_good.value)


@transaction.atomic
def make_good_approve(*, actor, make_good: MakeGood) -> MakeGood:
    _require(actor, APPROVE_PERM, _("Only a manager may approve a make-good."))
    if actor is None:
        raise ComplaintError(_("Only a manager may approve a make-good."), code="forbidden")
    make_good = MakeGood.objects.select_for_update().get(pk=make_good.pk)
    if make_good.status != MakeGoodStatus.PENDING:
        raise ComplaintError(_("This make-good was decided already."), code="state")
    complaint = _lock(make_good.complaint)
    if complaint.staff_id == actor.pk:
        raise ComplaintError(_("You cannot approve a make-good of a complaint about you."), code="forbidden")
    _give(make_good, actor=actor, complaint=complaint)
    return make_good


@transaction.atomic
def make_good_reject(*, actor, make_good: MakeGood, reason: str) -> MakeGood:
    _require(actor, APPROVE_PERM, _("Only a manager may approve a make-good."))
    reason = _text(reason, "reason", _("Give the reason."))
    make_good = MakeGood.objects.select_for_update().get(pk=make_good.pk)
    if make_good.status != MakeGoodStatus.PENDING:
        raise ComplaintError(_("This make-good was decided already."), code="state")
    complaint = _lock(make_good.complaint)
    make_good.status, make_good.approved_by = MakeGoodStatus.REJECTED, actor
    make_good.note = f"{make_good.note} / {reason}".strip(" /")[:200]
    make_good.save(update_fields=["status", "approved_by", "note"])
    _event(
        complaint,
        EventKind.MAKE_GOOD,
        actor=actor,
        text=_("Make-good rejected: %(reason)s") % {"reason": reason},
    )
    _audit(actor, "complaints.make_good.rejected", complaint, reason=reason)
    return make_good
