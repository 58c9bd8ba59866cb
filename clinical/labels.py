"""Labels of the clinical app's codes (clinic.labels)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, change_keys

audit_actions.register(
    {
        "clinical.chart.recorded": _("Dental chart findings recorded"),
        "clinical.note.written": _("Clinical note written"),
        "clinical.note.amended": _("Clinical note amended"),
        "clinical.note.viewed": _("Clinical notes of another doctor's patient read"),
        "clinical.attachment.added": _("Clinical attachment added"),
        "clinical.attachment.viewed": _("Clinical attachment opened"),
        "clinical.plan.created": _("Treatment plan created"),
        "clinical.plan.changed": _("Treatment plan changed"),
        "clinical.plan.item_added": _("Treatment plan item added"),
        "clinical.plan.item_removed": _("Treatment plan item removed"),
        "clinical.plan.alternative_chosen": _("Treatment plan alternative chosen"),
        "clinical.plan.submitted": _("Treatment plan submitted"),
        "clinical.plan.approved": _("Treatment plan approved"),
        "clinical.plan.returned": _("Treatment plan returned for changes"),
        "clinical.plan.presented": _("Treatment plan presented"),
        "clinical.plan.accepted": _("Treatment plan accepted"),
        "clinical.plan.versioned": _("Treatment plan new version"),
        "clinical.plan.cancelled": _("Treatment plan cancelled"),
        "clinical.plan.item_charged": _("Treatment plan item added to a visit"),
        "clinical.plan.completed": _("Treatment plan completed"),
        "clinical.plan.printed": _("Treatment plan printed"),
        "clinical.trace.searched": _("Patients traced"),
        "clinical.trace.exported": _("Traced patients exported"),
    }
)
_CHANGE_KEYS = {
    "teeth": _("teeth"),
    "kind": _("type"),
    "surfaces": _("surfaces"),
    "visit": _("visit"),
    "notes": _("notes"),
    "fields": _("fields"),
    "title": _("title"),
    "plan": _("plan"),
    "phase": _("phase"),
    "item": _("service"),
    "quantity": _("quantity"),
    "group": _("alternative group"),
    "status": _("status"),
    "reasons": _("review reasons"),
    "total": _("total"),
    "comment": _("comment"),
    "previous": _("previous version"),
    "version": _("version"),
    "filters": _("filters"),
    "people": _("people"),
    "name": _("file name"),
}
# Keys other apps label already keep their label (the audit page shows one name per key).
change_keys.register({k: v for k, v in _CHANGE_KEYS.items() if k not in change_keys._labels})

REVIEW_REASONS = {
    "type": _("plan type needs review"),
    "value": _("above the review amount"),
    "category": _("includes a service category that needs review"),
}
