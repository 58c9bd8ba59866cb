"""Yearly allowances (free cleanings, exams): per membership year, from the tier held."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.services import audit_record
from members.models import Member

from ..errors import LoyaltyError
from ..models import AllowanceKind, AllowanceUse, Membership, TierAllowance
from .ledger import add_months


def membership_year(membership: Membership, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The membership year containing ``today``: [anniversary of enrolment, next one)."""
    today = today or timezone.localdate()
    start = timezone.localdate(membership.enrolled_at)
    years = today.year - start.year
    candidate = add_months(start, 12 * years)
    if candidate > today:
        candidate = add_months(start, 12 * (years - 1))
    return candidate, add_months(candidate, 12)


@dataclass(frozen=True)
class AllowanceStatus:
    kind: str
    label: str
    per_year: int
    used: int

    @property
    def remaining(self) -> int:
        return max(self.per_year - self.used, 0)


def allowance_status(membership: Membership, today: dt.date | None = None) -> list[AllowanceStatus]:
    year_start, _end = membership_year(membership, today)
    used = {}
    for use in AllowanceUse.objects.filter(
        membership=membership, year_start=year_start, restored_at__isnull=True
    ):
        used[use.kind] = used.get(use.kind, 0) + 1
    labels = dict(AllowanceKind.choices)
    return [
        AllowanceStatus(a.kind, str(labels[a.kind]), a.per_year, used.get(a.kind, 0))
        for a in TierAllowance.objects.filter(tier_id=membership.tier_id).order_by("kind")
    ]


@transaction.atomic
def allowance_consume(*, actor, member: Member, kind: str, source_key: str) -> AllowanceUse:
    """Use one allowance of this membership year (a checkout line). Idempotent on
    ``source_key``; refused when none is left."""
    if kind not in AllowanceKind.values:
        raise LoyaltyError(_("Unknown benefit."), field="kind")
    existing = AllowanceUse.objects.filter(source_key=source_key).first()
    if existing is not None:
        return existing
    # The membership row lock stops two checkouts from both taking the last one.
    membership = Membership.objects.select_for_update().filter(member=member).first()
    if membership is None:
        raise LoyaltyError(_("This person is not a member yet."), code="not_member")
    status = {s.kind: s for s in allowance_status(membership)}.get(kind)
    if status is None or status.remaining <= 0:
        raise LoyaltyError(
            _("No %(benefit)s left this membership year.") % {"benefit": AllowanceKind(kind).label},
            code="none_left",
        )
    year_start, _end = membership_year(membership)
    use = AllowanceUse.objects.create(
        membership=membership,
        kind=kind,
        year_start=year_start,
        source_key=source_key,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="loyalty.allowance.used",
        target=member,
        changes={"kind": kind, "source": source_key, "left": status.remaining - 1},
    )
    return use


@transaction.atomic
def allowance_restore(*, actor, source_key: str) -> AllowanceUse | None:
    """Give back the allowance a voided checkout used. Idempotent."""
    use = (
        AllowanceUse.objects.select_for_update()
        .select_related("membership__member")
        .filter(source_key=source_key)
        .first()
    )
    if use is None or use.restored_at is not None:
        return use
    use.restored_at = timezone.now()
    use.save(update_fields=["restored_at"])
    audit_record(
        actor=actor,
        action="loyalty.allowance.restored",
        target=use.membership.member,
        changes={"kind": use.kind, "source": source_key},
    )
    return use
