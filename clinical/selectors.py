"""Reads of the clinical records, scoped to what the user may see (the person's branches,
as ``members.selectors.scope_members`` decides): 404 outside the scope, 403 without the role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments import integration, pricing
from appointments.models import VisitStatus
from clinic.money import ZERO, to_money
from members.models import Member
from members.selectors import scope_members

from .models import (
    POCKET_SITES,
    ClinicalAttachment,
    ClinicalNote,
    PlanItem,
    PlanItemCharge,
    PlanStatus,
    ReviewSettings,
    ToothFinding,
    TreatmentPlan,
)

MEDICAL_PERM = "clinic.view_medical"
PLAN_VIEW_PERM = "clinical.view_treatmentplan"

PERMANENT_QUADRANTS = (
    (18, 17, 16, 15, 14, 13, 12, 11),
    (21, 22, 23, 24, 25, 26, 27, 28),
    (48, 47, 46, 45, 44, 43, 42, 41),
    (31, 32, 33, 34, 35, 36, 37, 38),
)
PRIMARY_QUADRANTS = ((55, 54, 53, 52, 51), (61, 62, 63, 64, 65), (85, 84, 83, 82, 81), (71, 72, 73, 74, 75))


def review_settings() -> ReviewSettings:
    row = ReviewSettings.objects.order_by("pk").first()
    return row or ReviewSettings.objects.create()


def _scoped_member(user, pk: int, perm: str) -> Member:
    member = scope_members(Member.objects.select_related("branch"), user).filter(pk=pk).first()
    if member is None:
        raise Http404
    if not user.has_perm(perm):
        raise PermissionDenied
    return member


def get_member_clinical(user, pk: int, *, perm: str = MEDICAL_PERM) -> Member:
    """The person for a clinical page: in the user's branches (404), a clinical role (403)."""
    return _scoped_member(user, pk, perm)


def plans_for_user(user) -> QuerySet[TreatmentPlan]:
    if not user.is_authenticated or not user.has_perm(PLAN_VIEW_PERM):
        return TreatmentPlan.objects.none()
    members = scope_members(Member.objects.all(), user).values("pk")
    return TreatmentPlan.objects.select_related("member", "branch", "plan_type", "doctor__staff").filter(
        member__in=members
    )


def get_plan_for_user(user, pk: int, *, perm: str | None = None) -> TreatmentPlan:
    plan = plans_for_user(user).filter(pk=pk).first()
    if plan is None:
        if not user.has_perm(PLAN_VIEW_PERM) and TreatmentPlan.objects.filter(pk=pk).exists():
            raise PermissionDenied
        raise Http404
    if perm and not user.has_perm(perm):
        raise PermissionDenied
    return plan


def get_note_for_user(user, pk: int) -> ClinicalNote:
    note = ClinicalNote.objects.select_related("member", "visit", "author__staff").filter(pk=pk).first()
    if note is None:
        raise Http404
    get_member_clinical(user, note.member_id)
    return note


def get_attachment_for_user(user, pk: int) -> ClinicalAttachment:
    att = ClinicalAttachment.objects.filter(pk=pk).first()
    if att is None:
        raise Http404
    get_member_clinical(user, att.member_id)
    return att


def review_queue(user) -> QuerySet[TreatmentPlan]:
    return (
        plans_for_user(user)
        .filter(status=PlanStatus.IN_REVIEW)
        .exclude(doctor=user)
        .order_by("submitted_at", "pk")
    )


# --- the chart as of a date ------------------------------------------------------------------


def chart_as_of(member_id: int, at: dt.datetime | None = None) -> list[ToothFinding]:
    """The latest finding of every (tooth, surface, slot) recorded up to ``at``: the chart as
    it was then. One index scan (clinical_finding_asof) with DISTINCT ON."""
    qs = ToothFinding.objects.filter(member_id=member_id)
    if at is not None:
        qs = qs.filter(recorded_at__lte=at)
    return list(
        qs.order_by("tooth", "surface", "slot", "-recorded_at", "-id").distinct("tooth", "surface", "slot")
    )


@dataclass
class ToothState:
    tooth: int
    condition: str = ""
    surfaces: dict = field(default_factory=dict)  # surface → kind
    mobility: int | None = None
    pockets: list = field(default_factory=list)
    findings: list = field(default_factory=list)

    @property
    def css(self) -> str:
        return f"tooth-{self.condition or 'none'}"

    @property
    def max_pocket(self) -> int:
        return max(self.pockets) if self.pockets else 0

    @property
    def cells(self) -> list[tuple[str, str, str]]:
        """The five surfaces as SVG polygons (surface, points, css class) in a 40×40 box,
        drawn as the dentist faces the patient: buccal up, lingual down, mesial toward the
        midline (right on the patient's right side, quadrants 1, 4, 5, 8)."""
        right_side = self.tooth // 10 in (1, 4, 5, 8)
        left, right = ("D", "M") if right_side else ("M", "D")
        shapes = [
            ("B", "0,0 40,0 28,12 12,12"),
            ("L", "12,28 28,28 40,40 0,40"),
            (left, "0,0 12,12 12,28 0,40"),
            (right, "40,0 40,40 28,28 28,12"),
            ("O", "12,12 28,12 28,28 12,28"),
        ]
        whole = self.condition if self.condition in ("crown", "implant", "missing") else ""
        return [
            (surface, points, "s-" + (whole or self.surfaces.get(surface, "none")))
            for surface, points in shapes
        ]

    @property
    def label(self) -> str:
        from django.utils.translation import gettext as _

        text = self.summary()
        if self.mobility is not None:
            text += ("、" if text else "") + _("mobility %(grade)s") % {"grade": self.mobility}
        if self.pockets:
            text += ("、" if text else "") + _("pockets %(depths)s mm") % {
                "depths": "/".join(map(str, self.pockets))
            }
        return _("Tooth %(tooth)s: %(state)s") % {"tooth": self.tooth, "state": text or _("no findings")}

    def summary(self) -> str:
        parts = [
            f.get_kind_display() + (f" {f.surface}" if f.surface else "")
            for f in self.findings
            if f.kind not in ("sound",)
        ]
        return "、".join(parts)


def chart_grid(findings: list[ToothFinding], *, primary: bool) -> list[list[ToothState]]:
    """Four quadrants in the dentist's view (upper right, upper left / lower right, lower left)."""
    states: dict[int, ToothState] = {}
    for f in findings:
        state = states.setdefault(f.tooth, ToothState(tooth=f.tooth))
        state.findings.append(f)
        if f.slot == "condition":
            if f.surface:
                state.surfaces[f.surface] = f.kind
                if not state.condition and f.kind != "sound":
                    state.condition = f.kind
            else:
                state.condition = f.kind
        elif f.kind == "mobility":
            state.mobility = f.mobility
        elif f.kind == "pocket":
            state.pockets = list(f.pockets)
    quadrants = PRIMARY_QUADRANTS if primary else PERMANENT_QUADRANTS
    return [[states.get(t) or ToothState(tooth=t) for t in q] for q in quadrants]


def chart_dates(member_id: int) -> list[dict]:
    """The visits (and other days) that recorded findings: the picker's choices, newest first."""
    rows = (
        ToothFinding.objects.filter(member_id=member_id)
        .values("visit_id", "visit__opened_at")
        .order_by()
        .distinct()
    )
    out = []
    for r in rows:
        if r["visit_id"]:
            out.append({"visit_id": r["visit_id"], "at": r["visit__opened_at"]})
    out.sort(key=lambda r: r["at"], reverse=True)
    return out


# --- plans: quote and progress ---------------------------------------------------------------


@dataclass
class QuoteLine:
    item: PlanItem
    list_amount: Decimal
    discount: Decimal
    net: Decimal
    counted: bool


@dataclass
class Quote:
    lines: list[QuoteLine]
    tier_label: str
    list_total: Decimal
    discount_total: Decimal
    total: Decimal
    minutes: int


def plan_quote(plan: TreatmentPlan) -> Quote:
    """The plan priced by the checkout's own pricing (``appointments.pricing.price``) with the
    person's tier discount per category, as at the counter today. Alternatives not chosen are
    priced too (shown) but not counted. Allowances and coupons are left to the checkout."""
    items = list(plan.items.select_related("item__category", "phase").order_by("phase__order", "id"))
    tier_percent, tier_label = integration.tier_pricing(plan.member, {i.item.category for i in items})
    data = pricing.PricingInput(
        lines=[
            pricing.LineInput(i.pk, i.item_id, i.item.category_id, i.unit_price, i.quantity) for i in items
        ],
        tier_percent=tier_percent,
        tier_label=tier_label or _("Tier discount"),
    )
    result = pricing.price(data)
    by_key = {p.line.key: p for p in result.lines}
    lines = []
    for i in items:
        priced = by_key[i.pk]
        lines.append(QuoteLine(i, priced.list_amount, priced.list_amount - priced.net, priced.net, i.chosen))
    counted = [ln for ln in lines if ln.counted]
    list_total = to_money(sum((ln.list_amount for ln in counted), ZERO))
    total = to_money(sum((ln.net for ln in counted), ZERO))
    minutes = sum(ln.item.item.duration_minutes * ln.item.quantity for ln in counted)
    return Quote(
        lines,
        tier_label if tier_percent and any(tier_percent.values()) else "",
        list_total,
        list_total - total,
        total,
        minutes,
    )


@dataclass
class Progress:
    done: list
    in_progress: list
    remaining: list
    paid: Decimal
    chosen_count: int

    @property
    def remaining_count(self) -> int:
        return len(self.remaining) + len(self.in_progress)

    @property
    def percent(self) -> int:
        return round(100 * len(self.done) / self.chosen_count) if self.chosen_count else 0


def plan_progress(plan: TreatmentPlan) -> Progress:
    """Done: on a checked-out visit; in progress: on an open visit; remaining: not on a visit.
    Paid: the net amount of the done lines (voided visits count as not done)."""
    charges = {
        c.plan_item_id: c
        for c in PlanItemCharge.objects.filter(plan_item__plan=plan).select_related("charge_line", "visit")
    }
    done, in_progress, remaining, paid = [], [], [], ZERO
    items = list(plan.items.select_related("item", "phase").filter(chosen=True))
    for item in items:
        charge = charges.get(item.pk)
        if charge is None or charge.visit.status == VisitStatus.VOIDED:
            remaining.append(item)
        elif charge.visit.status == VisitStatus.OPEN:
            in_progress.append((item, charge))
        else:
            done.append((item, charge))
            paid += charge.charge_line.net_amount
    return Progress(done, in_progress, remaining, to_money(paid), len(items))


def open_visits(plan: TreatmentPlan):
    from appointments.models import Visit

    return Visit.objects.filter(member_id=plan.member_id, status=VisitStatus.OPEN).order_by("-opened_at")


def chart_asof_sql(member_id: int, at: dt.datetime) -> list[tuple]:
    """The raw-SQL floor of ``chart_as_of`` (benchmarks only)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT ON (tooth, surface, slot) id, tooth, surface, slot, kind FROM clinical_toothfinding "
            "WHERE member_id = %s AND recorded_at <= %s ORDER BY tooth, surface, slot, recorded_at DESC, id DESC",
            [member_id, at],
        )
        return cur.fetchall()


def now_local() -> dt.datetime:
    return timezone.localtime()


__all__ = ["POCKET_SITES"]
