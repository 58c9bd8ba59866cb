"""Every write of the clinical records: a service with its own transaction and one audit
row. Reads that are audited (a note of another doctor's patient) are services too."""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.checkout import charge_line_add
from appointments.errors import AppointmentError
from appointments.fdi import validate_tooth
from appointments.models import Visit, VisitStatus
from clinic.models import ServiceItem
from clinic.money import to_money
from clinic.services import audit_record
from members.models import Member

from .errors import ClinicalError
from .models import (
    EDITABLE_STATUSES,
    NOTE_FIELDS,
    POCKET_SITES,
    WHOLE_TOOTH_KINDS,
    AttachmentKind,
    ClinicalAttachment,
    ClinicalNote,
    FindingKind,
    NoteAmendment,
    PlanItem,
    PlanItemCharge,
    PlanPhase,
    PlanReview,
    PlanStatus,
    PlanType,
    ReviewDecision,
    ToothFinding,
    TreatmentPlan,
    slot_for,
)
from .signals import plan_accepted

MEDICAL_PERM = "clinic.view_medical"
FINDING_PERM = "clinical.add_toothfinding"
NOTE_PERM = "clinical.add_clinicalnote"
ATTACH_PERM = "clinical.add_clinicalattachment"
PLAN_PERM = "clinical.add_treatmentplan"
PLAN_CHANGE_PERM = "clinical.change_treatmentplan"
REVIEW_PERM = "clinical.review_treatmentplan"
TRACE_PERM = "clinical.trace_patients"


def _require(actor, perm: str, message) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise ClinicalError(message, code="forbidden")


def _text(value: str, limit: int = 5000) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise ClinicalError(_("At most %(limit)d characters.") % {"limit": limit})
    return value


# --- the chart -------------------------------------------------------------------------------


def _teeth(values: Iterable[int], field: str = "teeth") -> list[int]:
    out = []
    for value in values:
        try:
            validate_tooth(int(value))
        except (ValidationError, ValueError, TypeError) as exc:
            message = (
                exc.messages[0]
                if isinstance(exc, ValidationError)
                else _("Tooth numbers are two digits, e.g. 11 or 85.")
            )
            raise ClinicalError(message, field=field) from exc
        if int(value) not in out:
            out.append(int(value))
    return out


@transaction.atomic
def findings_record(
    *,
    actor,
    member: Member,
    visit: Visit | None,
    teeth: Iterable[int],
    kind: str,
    surfaces: Iterable[str] = (),
    mobility: int | None = None,
    pockets: Iterable[int | None] = (),
    note: str = "",
    at: dt.datetime | None = None,
) -> list[ToothFinding]:
    """Record one finding on each tooth (and each surface given) of a visit. Append-only: a
    finding supersedes the last one of its slot (condition / mobility / pockets) on that tooth
    and surface for every later date, and never changes the chart as it was before."""
    _require(actor, FINDING_PERM, _("Your role may not write the dental chart."))
    if kind not in FindingKind.values:
        raise ClinicalError(_("Choose a finding."), field="kind")
    teeth = _teeth(teeth)
    if not teeth:
        raise ClinicalError(_("Choose at least one tooth."), field="teeth")
    if visit is not None and visit.member_id != member.pk:
        raise ClinicalError(_("This visit is someone else's."), field="visit")
    surfaces = sorted({s for s in surfaces if s})
    if any(s not in "MODBL" or len(s) != 1 for s in surfaces):
        raise ClinicalError(_("Unknown surface."), field="surfaces")
    if kind in WHOLE_TOOTH_KINDS:
        surfaces = []
    elif kind in (FindingKind.CARIES, FindingKind.FILLED) and not surfaces:
        raise ClinicalError(_("Caries and fillings need the surfaces (M, O, D, B, L)."), field="surfaces")
    if kind == FindingKind.MOBILITY:
        if mobility is None or not 0 <= int(mobility) <= 3:
            raise ClinicalError(_("The mobility grade is 0 to 3."), field="mobility")
    else:
        mobility = None
    depths: list[int] = []
    if kind == FindingKind.POCKET:
        depths = [int(p) for p in pockets if p not in (None, "")]
        if len(depths) != len(POCKET_SITES) or any(not 0 <= d <= 20 for d in depths):
            raise ClinicalError(_("Give the six pocket depths in mm (0–20)."), field="pockets")
    at = at or timezone.now()
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise ClinicalError(_("A finding cannot be dated in the future."))
    branch_id = visit.branch_id if visit else member.branch_id
    rows = [
        ToothFinding(
            member=member,
            branch_id=branch_id,
            visit=visit,
            tooth=tooth,
            surface=surface,
            kind=kind,
            slot=slot_for(kind),
            mobility=mobility,
            pockets=depths,
            note=_text(note, 200),
            recorded_at=at,
            recorded_by=actor if getattr(actor, "pk", None) else None,
        )
        for tooth in teeth
        for surface in (surfaces or [""])
    ]
    ToothFinding.objects.bulk_create(rows)
    audit_record(
        actor=actor,
        action="clinical.chart.recorded",
        target=member,
        changes={"teeth": teeth, "kind": kind, "surfaces": surfaces, "visit": visit.pk if visit else None},
    )
    return rows


# --- notes -----------------------------------------------------------------------------------


def _note_fields(fields: dict) -> dict:
    clean = {name: _text(fields.get(name, "")) for name in NOTE_FIELDS}
    if not any(clean.values()):
        raise ClinicalError(_("Write at least one part of the note."))
    return clean


@transaction.atomic
def note_write(*, actor, visit: Visit, **fields) -> ClinicalNote:
    """The note of a visit (one per visit; a second is refused: amend the first)."""
    _require(actor, NOTE_PERM, _("Your role may not write clinical notes."))
    if ClinicalNote.objects.filter(visit=visit).exists():
        raise ClinicalError(_("This visit has a note already: amend it instead."), code="exists")
    if visit.status == VisitStatus.VOIDED:
        raise ClinicalError(_("This visit was voided."), code="state")
    note = ClinicalNote.objects.create(
        member_id=visit.member_id,
        branch_id=visit.branch_id,
        visit=visit,
        author=actor,
        **_note_fields(fields),
    )
    audit_record(actor=actor, action="clinical.note.written", target=note, branch=visit.branch)
    return note


@transaction.atomic
def note_amend(*, actor, note: ClinicalNote, reason: str, **fields) -> NoteAmendment:
    """A new version of the note; the original and every earlier version stay."""
    _require(actor, NOTE_PERM, _("Your role may not write clinical notes."))
    reason = _text(reason, 500)
    if not reason:
        raise ClinicalError(_("Say why the note is amended."), field="reason")
    clean = _note_fields(fields)
    current = note_current(note)
    if all(current[name] == clean[name] for name in NOTE_FIELDS):
        raise ClinicalError(_("Nothing was changed."))
    amendment = NoteAmendment.objects.create(note=note, author=actor, reason=reason, **clean)
    audit_record(
        actor=actor,
        action="clinical.note.amended",
        target=note,
        branch=note.branch,
        changes={"fields": [n for n in NOTE_FIELDS if current[n] != clean[n]]},
    )
    return amendment


def note_current(note: ClinicalNote) -> dict:
    """The note's current text: its last amendment, else the original."""
    last = note.amendments.order_by("-amended_at", "-id").first()
    source = last or note
    return {name: getattr(source, name) for name in NOTE_FIELDS}


def is_own_patient(actor, member: Member) -> bool:
    """The actor treated the person (a visit as their doctor) or wrote their notes."""
    return (
        Visit.objects.filter(member=member, doctor=actor).exists()
        or ClinicalNote.objects.filter(member=member, author=actor).exists()
    )


@transaction.atomic
def notes_read(*, actor, member: Member, notes: Iterable[ClinicalNote]) -> None:
    """Reading notes of another doctor's patient is audited (one row per opening)."""
    notes = list(notes)
    if notes and not is_own_patient(actor, member):
        audit_record(
            actor=actor,
            action="clinical.note.viewed",
            target=member,
            changes={"notes": [n.pk for n in notes]},
        )


# --- attachments -----------------------------------------------------------------------------

# Images and PDFs only, recognised by their first bytes (the extension must agree).
SIGNATURES: list[tuple[bytes, str, tuple[str, ...]]] = [
    (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")),
    (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
    (b"%PDF-", "application/pdf", (".pdf",)),
    (b"II*\x00", "image/tiff", (".tif", ".tiff")),
    (b"MM\x00*", "image/tiff", (".tif", ".tiff")),
]


def attachment_max_bytes() -> int:
    return int(getattr(settings, "CLINICAL_ATTACHMENT_MAX_MB", 20)) * 1024 * 1024


def _sniff(upload: UploadedFile) -> tuple[str, str]:
    name = Path(upload.name or "").name
    ext = Path(name).suffix.lower()
    if upload.size == 0:
        raise ClinicalError(_("The file is empty."), field="file")
    if upload.size > attachment_max_bytes():
        raise ClinicalError(
            _("“%(name)s” is %(size)s MB; one file may be at most %(max)s MB.")
            % {
                "name": name,
                "size": round(upload.size / 1024 / 1024, 1),
                "max": attachment_max_bytes() // 1024 // 1024,
            },
            field="file",
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP" and ext == ".webp":
        return ext, "image/webp"
    for magic, content_type, exts in SIGNATURES:
        if head.startswith(magic):
            if ext not in exts:
                break
            return ext, content_type or mimetypes.guess_type(name)[0]
    raise ClinicalError(
        _("“%(name)s” is not a JPEG, PNG, TIFF, WebP image or a PDF (checked by its content).")
        % {"name": name},
        field="file",
    )


@transaction.atomic
def attachment_add(
    *, actor, member: Member, kind: str, upload: UploadedFile, visit: Visit | None = None
) -> ClinicalAttachment:
    _require(actor, ATTACH_PERM, _("Your role may not add clinical attachments."))
    if kind not in AttachmentKind.values:
        raise ClinicalError(_("Choose the type of the file."), field="kind")
    if visit is not None and visit.member_id != member.pk:
        raise ClinicalError(_("This visit is someone else's."), field="visit")
    ext, content_type = _sniff(upload)
    att = ClinicalAttachment(
        member=member,
        branch_id=visit.branch_id if visit else member.branch_id,
        visit=visit,
        kind=kind,
        original_name=Path(upload.name).name[:150],
        content_type=content_type,
        extension=ext,
        size=upload.size,
        uploaded_by=actor,
    )
    att.file.save(att.original_name, upload, save=False)
    att.save()
    audit_record(
        actor=actor,
        action="clinical.attachment.added",
        target=member,
        changes={"name": att.original_name, "kind": kind},
    )
    return att


# --- treatment plans -------------------------------------------------------------------------


def _lock(plan: TreatmentPlan) -> TreatmentPlan:
    return (
        TreatmentPlan.objects.select_for_update(of=("self",))
        .select_related("member", "branch", "plan_type")
        .get(pk=plan.pk)
    )


def _editable(plan: TreatmentPlan) -> None:
    if plan.status not in EDITABLE_STATUSES:
        raise ClinicalError(
            _("This plan is %(status)s: it can no longer be edited (make a new version).")
            % {"status": plan.get_status_display()},
            code="state",
        )


@transaction.atomic
def plan_create(
    *, actor, member: Member, plan_type: PlanType, title: str, estimated_weeks: int = 1, branch=None
) -> TreatmentPlan:
    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    title = _text(title, 100)
    if not title:
        raise ClinicalError(_("Give the plan a title."), field="title")
    if not plan_type.is_active:
        raise ClinicalError(_("This plan type is no longer used."), field="plan_type")
    if not 1 <= int(estimated_weeks) <= 260:
        raise ClinicalError(_("The estimated duration is 1 to 260 weeks."), field="estimated_weeks")
    plan = TreatmentPlan.objects.create(
        member=member,
        branch=branch or member.branch,
        plan_type=plan_type,
        doctor=actor,
        title=title,
        estimated_weeks=estimated_weeks,
    )
    PlanPhase.objects.create(plan=plan, order=1, name=_("Phase 1"))
    audit_record(actor=actor, action="clinical.plan.created", target=plan, changes={"title": title})
    return plan


@transaction.atomic
def plan_update(
    *, actor, plan: TreatmentPlan, title: str, estimated_weeks: int, plan_type: PlanType
) -> TreatmentPlan:
    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(plan)
    _editable(plan)
    title = _text(title, 100)
    if not title:
        raise ClinicalError(_("Give the plan a title."), field="title")
    if not 1 <= int(estimated_weeks) <= 260:
        raise ClinicalError(_("The estimated duration is 1 to 260 weeks."), field="estimated_weeks")
    old = [plan.title, plan.estimated_weeks, plan.plan_type_id]
    plan.title, plan.estimated_weeks, plan.plan_type = title, estimated_weeks, plan_type
    plan.save(update_fields=["title", "estimated_weeks", "plan_type"])
    audit_record(
        actor=actor,
        action="clinical.plan.changed",
        target=plan,
        changes={"plan": [old, [title, estimated_weeks, plan_type.pk]]},
    )
    return plan


@transaction.atomic
def plan_phase_add(*, actor, plan: TreatmentPlan, name: str) -> PlanPhase:
    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(plan)
    _editable(plan)
    name = _text(name, 60)
    if not name:
        raise ClinicalError(_("Name the phase."), field="name")
    order = (plan.phases.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    phase = PlanPhase.objects.create(plan=plan, order=order, name=name)
    audit_record(actor=actor, action="clinical.plan.changed", target=plan, changes={"phase": name})
    return phase


@transaction.atomic
def plan_item_add(
    *,
    actor,
    plan: TreatmentPlan,
    phase: PlanPhase,
    item: ServiceItem,
    teeth: Iterable[int] = (),
    quantity: int | None = None,
    alternative_group: str = "",
    note: str = "",
) -> PlanItem:
    """An item at today's list price. Per-tooth items count one per tooth (as at checkout).
    In an alternative group the first item is chosen; the patient may pick another."""
    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(plan)
    _editable(plan)
    if phase.plan_id != plan.pk:
        raise ClinicalError(_("This phase belongs to another plan."), field="phase")
    if not item.is_active:
        raise ClinicalError(_("This service is no longer offered."), field="item")
    teeth = _teeth(teeth)
    if item.per_tooth and teeth:
        if quantity not in (None, len(teeth)):
            raise ClinicalError(
                _("%(item)s is charged per tooth: %(teeth)d teeth need quantity %(teeth)d.")
                % {"item": item.display_name, "teeth": len(teeth)},
                field="quantity",
            )
        quantity = len(teeth)
    quantity = quantity or 1
    if not 1 <= quantity <= 99:
        raise ClinicalError(_("The quantity must be between 1 and 99."), field="quantity")
    group = _text(alternative_group, 20)
    chosen = not group or not plan.items.filter(alternative_group=group).exists()
    row = PlanItem.objects.create(
        plan=plan,
        phase=phase,
        item=item,
        teeth=teeth,
        quantity=quantity,
        unit_price=to_money(item.price),
        alternative_group=group,
        chosen=chosen,
        note=_text(note, 200),
    )
    audit_record(
        actor=actor,
        action="clinical.plan.item_added",
        target=plan,
        changes={"item": item.code, "teeth": teeth, "quantity": quantity},
    )
    return row


@transaction.atomic
def plan_item_remove(*, actor, item: PlanItem) -> None:
    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(item.plan)
    _editable(plan)
    group, was_chosen = item.alternative_group, item.chosen
    audit_record(
        actor=actor,
        action="clinical.plan.item_removed",
        target=plan,
        changes={"item": item.item.code, "teeth": item.teeth},
    )
    item.delete()
    if group and was_chosen:
        first = plan.items.filter(alternative_group=group).order_by("id").first()
        if first is not None:
            PlanItem.objects.filter(pk=first.pk).update(chosen=True)


@transaction.atomic
def plan_choose_alternative(*, actor, item: PlanItem) -> PlanItem:
    """The patient picks ``item`` from its alternative group (before acceptance)."""
    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(item.plan)
    if plan.status not in (*EDITABLE_STATUSES, PlanStatus.APPROVED, PlanStatus.PRESENTED):
        raise ClinicalError(
            _("The alternatives of an accepted plan are fixed (make a new version)."), code="state"
        )
    if not item.alternative_group:
        raise ClinicalError(_("This item has no alternatives."))
    plan.items.filter(alternative_group=item.alternative_group).update(chosen=False)
    PlanItem.objects.filter(pk=item.pk).update(chosen=True)
    audit_record(
        actor=actor,
        action="clinical.plan.alternative_chosen",
        target=plan,
        changes={"group": item.alternative_group, "item": item.item.code},
    )
    item.chosen = True
    return item


def review_reasons(plan: TreatmentPlan, total: Decimal) -> list[str]:
    """Why the plan needs a senior doctor (empty: it does not). Codes, see labels."""
    from .selectors import review_settings

    settings_row = review_settings()
    reasons = []
    if plan.plan_type.needs_review:
        reasons.append("type")
    if total > settings_row.threshold:
        reasons.append("value")
    category_ids = set(settings_row.categories.values_list("pk", flat=True))
    if category_ids and plan.items.filter(item__category_id__in=category_ids).exists():
        reasons.append("category")
    return reasons


@transaction.atomic
def plan_submit(*, actor, plan: TreatmentPlan) -> TreatmentPlan:
    """Finish editing. A plan that needs review goes to the senior doctors' queue; any other is
    ready to present at once."""
    from .selectors import plan_quote

    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(plan)
    _editable(plan)
    if not plan.items.exists():
        raise ClinicalError(_("The plan has no items yet."))
    total = plan_quote(plan).total
    reasons = review_reasons(plan, total)
    plan.quote_total, plan.review_reasons, plan.needs_review = total, reasons, bool(reasons)
    plan.submitted_at = timezone.now()
    frm = plan.status
    plan.status = PlanStatus.IN_REVIEW if reasons else PlanStatus.APPROVED
    plan.save(update_fields=["quote_total", "review_reasons", "needs_review", "submitted_at", "status"])
    if reasons:
        PlanReview.objects.create(plan=plan, decision=ReviewDecision.SUBMITTED, actor=actor)
    audit_record(
        actor=actor,
        action="clinical.plan.submitted",
        target=plan,
        changes={"status": [frm, plan.status], "reasons": reasons, "total": total},
    )
    return plan


@transaction.atomic
def plan_review(*, actor, plan: TreatmentPlan, approve: bool, comment: str = "") -> TreatmentPlan:
    """A senior doctor approves the plan or returns it with comments (a return needs them).
    Nobody reviews a plan they wrote."""
    _require(actor, REVIEW_PERM, _("Only a senior doctor may review treatment plans."))
    plan = _lock(plan)
    if plan.status != PlanStatus.IN_REVIEW:
        raise ClinicalError(_("This plan is not waiting for review."), code="state")
    if actor is not None and plan.doctor_id == actor.pk:
        raise ClinicalError(_("A plan is reviewed by another senior doctor than its author."), code="own")
    comment = _text(comment, 2000)
    if not approve and not comment:
        raise ClinicalError(_("Say what should change."), field="comment")
    plan.status = PlanStatus.APPROVED if approve else PlanStatus.RETURNED
    plan.reviewed_by, plan.reviewed_at = actor, timezone.now()
    plan.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    PlanReview.objects.create(
        plan=plan,
        decision=ReviewDecision.APPROVED if approve else ReviewDecision.RETURNED,
        actor=actor,
        comment=comment,
    )
    audit_record(
        actor=actor,
        action="clinical.plan.approved" if approve else "clinical.plan.returned",
        target=plan,
        changes={"comment": comment} if comment else {},
    )
    return plan


@transaction.atomic
def plan_present(*, actor, plan: TreatmentPlan) -> TreatmentPlan:
    """Show the plan to the patient: only an approved (or review-free) plan."""
    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(plan)
    if plan.status != PlanStatus.APPROVED:
        raise ClinicalError(_("Only an approved plan can be presented to the patient."), code="state")
    plan.status, plan.presented_at = PlanStatus.PRESENTED, timezone.now()
    plan.save(update_fields=["status", "presented_at"])
    audit_record(actor=actor, action="clinical.plan.presented", target=plan)
    return plan


@transaction.atomic
def plan_accept(*, actor, plan: TreatmentPlan) -> TreatmentPlan:
    """The patient accepted (and signed the printed plan). The quote is fixed from here."""
    from .selectors import plan_quote

    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(plan)
    if plan.status != PlanStatus.PRESENTED:
        raise ClinicalError(
            _("Present the plan to the patient before recording the acceptance."), code="state"
        )
    plan.quote_total = plan_quote(plan).total
    plan.status, plan.accepted_at, plan.accepted_recorded_by = PlanStatus.ACCEPTED, timezone.now(), actor
    plan.save(update_fields=["status", "accepted_at", "accepted_recorded_by", "quote_total"])
    audit_record(
        actor=actor, action="clinical.plan.accepted", target=plan, changes={"total": plan.quote_total}
    )
    transaction.on_commit(lambda: plan_accepted.send(sender=TreatmentPlan, plan=plan))
    return plan


@transaction.atomic
def plan_new_version(*, actor, plan: TreatmentPlan) -> TreatmentPlan:
    """A change after the plan left editing: a copy (phases, items, choices) as a new draft
    version; the old version is superseded (items already carried out stay with it)."""
    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(plan)
    if plan.status in (*EDITABLE_STATUSES, PlanStatus.SUPERSEDED, PlanStatus.CANCELLED, PlanStatus.COMPLETED):
        raise ClinicalError(_("This plan can be edited as it is, or is closed."), code="state")
    if plan.status == PlanStatus.IN_REVIEW:
        raise ClinicalError(_("Wait for the review before changing this plan."), code="state")
    new = TreatmentPlan.objects.create(
        member=plan.member,
        branch=plan.branch,
        plan_type=plan.plan_type,
        doctor=actor,
        title=plan.title,
        estimated_weeks=plan.estimated_weeks,
        version=plan.version + 1,
        previous=plan,
    )
    done = set(PlanItemCharge.objects.filter(plan_item__plan=plan).values_list("plan_item_id", flat=True))
    for phase in plan.phases.prefetch_related("items"):
        copy = PlanPhase.objects.create(plan=new, order=phase.order, name=phase.name)
        PlanItem.objects.bulk_create(
            [
                PlanItem(
                    plan=new,
                    phase=copy,
                    item_id=i.item_id,
                    teeth=i.teeth,
                    quantity=i.quantity,
                    unit_price=i.unit_price,
                    alternative_group=i.alternative_group,
                    chosen=i.chosen,
                    note=i.note,
                )
                for i in phase.items.all()
                if i.pk not in done
            ]
        )
    plan.status = PlanStatus.SUPERSEDED
    plan.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="clinical.plan.versioned",
        target=new,
        changes={"previous": plan.pk, "version": new.version},
    )
    return new


@transaction.atomic
def plan_cancel(*, actor, plan: TreatmentPlan) -> TreatmentPlan:
    _require(actor, PLAN_PERM, _("Your role may not write treatment plans."))
    plan = _lock(plan)
    if plan.status in (PlanStatus.COMPLETED, PlanStatus.SUPERSEDED, PlanStatus.CANCELLED):
        raise ClinicalError(_("This plan is closed."), code="state")
    frm = plan.status
    plan.status = PlanStatus.CANCELLED
    plan.save(update_fields=["status"])
    audit_record(
        actor=actor, action="clinical.plan.cancelled", target=plan, changes={"status": [frm, plan.status]}
    )
    return plan


@transaction.atomic
def plan_item_charge(*, actor, item: PlanItem, visit: Visit) -> PlanItemCharge:
    """Carry out a plan item on a visit: it becomes a charge line through appointments'
    ``charge_line_add`` (priced and checked out there, with the tier discount); the link is
    kept here. Only chosen items of an accepted plan, once, on an open visit of the patient."""
    plan = _lock(item.plan)
    if plan.status != PlanStatus.ACCEPTED:
        raise ClinicalError(_("Only the items of an accepted plan are carried out."), code="state")
    item = PlanItem.objects.select_for_update().select_related("item").get(pk=item.pk)
    if not item.chosen:
        raise ClinicalError(_("The patient chose another alternative for this item."), code="state")
    if visit.member_id != plan.member_id:
        raise ClinicalError(_("This visit is someone else's."), field="visit")
    if PlanItemCharge.objects.filter(plan_item=item).exists():
        raise ClinicalError(_("This item is already on a visit."), code="exists")
    try:
        line = charge_line_add(
            actor=actor, visit=visit, item=item.item, quantity=item.quantity, teeth=item.teeth
        )
    except AppointmentError as exc:
        raise ClinicalError(exc.message, code=exc.code, field="visit") from exc
    link = PlanItemCharge.objects.create(plan_item=item, charge_line=line, visit=visit)
    audit_record(
        actor=actor,
        action="clinical.plan.item_charged",
        target=plan,
        changes={"item": item.item.code, "visit": visit.pk},
    )
    return link


@transaction.atomic
def plans_complete_for_visit(*, visit: Visit) -> int:
    """After a checkout: an accepted plan whose chosen items are all on checked-out visits is
    completed (``plan_completed`` fires after commit). Returns how many plans completed."""
    from .selectors import plan_progress
    from .signals import plan_completed

    count = 0
    plan_ids = set(PlanItemCharge.objects.filter(visit=visit).values_list("plan_item__plan_id", flat=True))
    for plan in TreatmentPlan.objects.select_for_update().filter(pk__in=plan_ids, status=PlanStatus.ACCEPTED):
        if plan_progress(plan).remaining_count == 0:
            plan.status = PlanStatus.COMPLETED
            plan.save(update_fields=["status"])
            audit_record(actor=None, action="clinical.plan.completed", target=plan)
            transaction.on_commit(lambda p=plan: plan_completed.send(sender=TreatmentPlan, plan=p))
            count += 1
    return count
