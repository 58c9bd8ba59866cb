"""Reads of partners, statements and the partner analysis, scoped to what the user may see:
a partner belongs to its branch (``Partner.branch``); staff see their branches' partners and
statements, HQ all. People on these pages are shown by name only to a role that may open
their record (``members.view_member`` and the person in the user's branches), else masked
(``张**``); phones never appear."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from appointments.models import Visit, VisitStatus
from clinic.money import ZERO
from clinic.selectors import scope_to_branches
from members.models import Member
from members.names import mask_name
from members.selectors import scope_members

from .models import Attribution, Partner, Rebate, RebateEntryKind, Statement

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(raw: str | None) -> dt.date | None:
    """``YYYY-MM`` as the first day of that month (2000–2100), else None."""
    match = _MONTH.match((raw or "").strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return None
    return dt.date(year, month, 1)


def partners_for_user(user) -> QuerySet[Partner]:
    if not user.has_perm("marketing.view_partner"):
        raise PermissionDenied
    return scope_to_branches(Partner.objects.all(), user).select_related("branch", "account_manager__staff")


def partner_list(user, *, query: str = "", kind: str = "", active: str = "") -> QuerySet[Partner]:
    qs = partners_for_user(user)
    if query:
        qs = qs.filter(
            Q(name__icontains=query) | Q(contacts__name__icontains=query) | Q(phone__icontains=query)
        ).distinct()
    if kind:
        qs = qs.filter(kind=kind)
    if active in ("1", "0"):
        qs = qs.filter(is_active=active == "1")
    return qs.annotate(people=Count("attributions", distinct=True)).order_by("-is_active", "name", "id")


def get_partner_for_user(user, pk: int, *, perm: str | None = None) -> Partner:
    """404 outside the user's branches, 403 when seen but ``perm`` is missing."""
    partner = partners_for_user(user).filter(pk=pk).first()
    if partner is None:
        raise Http404
    if perm and not user.has_perm(perm):
        raise PermissionDenied
    return partner


def statements_for_user(user) -> QuerySet[Statement]:
    if not user.has_perm("marketing.view_statement"):
        raise PermissionDenied
    return scope_to_branches(Statement.objects.all(), user, field="partner__branch").select_related(
        "partner__branch", "settled_by__staff"
    )


def get_statement_for_user(user, pk: int, *, perm: str | None = None) -> Statement:
    statement = statements_for_user(user).filter(pk=pk).first()
    if statement is None:
        raise Http404
    if perm and not user.has_perm(perm):
        raise PermissionDenied
    return statement


def visible_member_ids(user, member_ids) -> set[int]:
    """Of ``member_ids``, those the user may open (shown by name)."""
    if not user.has_perm("members.view_member"):
        return set()
    return set(
        scope_members(Member.objects.filter(pk__in=list(member_ids)), user).values_list("pk", flat=True)
    )


def person_label(member: Member, visible: set[int]) -> str:
    return member.name if member.pk in visible else mask_name(member.name)


@dataclass
class StatementLine:
    row: Rebate
    person: str
    member_id: int | None
    day: dt.date | None
    services: str
    linkable: bool


def statement_lines(statement: Statement, user, *, masked: bool = False) -> list[StatementLine]:
    """The lines of a statement in order, with the person as ``user`` may see them
    (``masked``: always masked, for what goes to the partner)."""
    from django.utils import timezone

    rows = list(
        statement.lines.select_related("visit__member", "term__category", "reverses__statement").order_by(
            "created_at", "id"
        )
    )
    members = {r.visit.member_id for r in rows if r.visit_id}
    visible = set() if masked else visible_member_ids(user, members)
    out = []
    for r in rows:
        member = r.visit.member if r.visit_id else None
        at = r.visit.checked_out_at if r.visit_id else None
        out.append(
            StatementLine(
                row=r,
                person=person_label(member, visible) if member else "",
                member_id=member.pk if member else None,
                day=timezone.localtime(at).date() if at else None,
                services=r.services,
                linkable=bool(member and member.pk in visible),
            )
        )
    return out


def statement_summary(statement: Statement) -> dict[str, Decimal]:
    sums = statement.lines.aggregate(
        rebates=Coalesce(Sum("amount", filter=Q(kind=RebateEntryKind.ACCRUAL)), ZERO),
        reversals=Coalesce(Sum("amount", filter=Q(kind=RebateEntryKind.REVERSAL)), ZERO),
        carried=Coalesce(
            Sum("amount", filter=Q(kind__in=[RebateEntryKind.CARRY_IN, RebateEntryKind.CARRY_OUT])), ZERO
        ),
        total=Coalesce(Sum("amount"), ZERO),
        collected=Coalesce(Sum("base", filter=Q(kind=RebateEntryKind.ACCRUAL)), ZERO),
    )
    return sums


# --- the analysis ---------------------------------------------------------------------------


@dataclass
class PartnerFigures:
    partner: Partner
    sent: int = 0
    paid: int = 0
    returned: int = 0
    revenue: Decimal = ZERO
    rebate: Decimal = ZERO
    extra: dict = field(default_factory=dict)

    @property
    def paid_rate(self) -> Decimal | None:
        return Decimal(self.paid * 100 / self.sent).quantize(Decimal("0.1")) if self.sent else None

    @property
    def returned_rate(self) -> Decimal | None:
        return Decimal(self.returned * 100 / self.paid).quantize(Decimal("0.1")) if self.paid else None


def _paid_visits():
    return Visit.objects.filter(
        member_id=OuterRef("member_id"), status=VisitStatus.CHECKED_OUT, amount_paid__gt=0
    )


def _cohort(partners: QuerySet[Partner], month: dt.date | None) -> QuerySet[Attribution]:
    """The people the partners sent (in ``month``: first touch fixed that month, Shanghai time),
    each with their number of paid visits and what those visits paid."""
    from django.utils import timezone

    qs = Attribution.objects.filter(partner__in=partners)
    if month is not None:
        from .rebates import next_month

        tz = timezone.get_current_timezone()
        lo = dt.datetime.combine(month, dt.time.min, tzinfo=tz)
        hi = dt.datetime.combine(next_month(month), dt.time.min, tzinfo=tz)
        qs = qs.filter(fixed_at__gte=lo, fixed_at__lt=hi)
    money = DecimalField(max_digits=14, decimal_places=2)
    return qs.annotate(
        n_paid=Coalesce(
            Subquery(_paid_visits().values("member_id").annotate(c=Count("pk")).values("c")[:1]), Value(0)
        ),
        revenue=Coalesce(
            Subquery(_paid_visits().values("member_id").annotate(s=Sum("amount_paid")).values("s")[:1]),
            Value(ZERO),
            output_field=money,
        ),
        rebate=Coalesce(
            Subquery(
                Rebate.objects.filter(
                    visit__member_id=OuterRef("member_id"), partner_id=OuterRef("partner_id")
                )
                .values("partner_id")
                .annotate(s=Sum("amount"))
                .values("s")[:1]
            ),
            Value(ZERO),
            output_field=money,
        ),
    )


def partner_analysis(
    user, *, branch_id: int | None = None, month: dt.date | None = None
) -> list[PartnerFigures]:
    """Per partner: people sent, of them paid (a first paid visit), returned (a second paid
    visit), what their paid visits brought in (voided visits excluded) and the rebates earned
    on them (net of reversals). ``month``: only people sent that month (a cohort, followed to
    today)."""
    partners = partners_for_user(user)
    if branch_id:
        partners = partners.filter(branch_id=branch_id)
    by_partner = {p.pk: PartnerFigures(partner=p) for p in partners.order_by("name", "id")}
    rows = (
        _cohort(partners, month)
        .values("partner_id")
        .annotate(
            sent=Count("pk"),
            paid=Count("pk", filter=Q(n_paid__gte=1)),
            returned=Count("pk", filter=Q(n_paid__gte=2)),
            revenue_sum=Sum("revenue"),
            rebate_sum=Sum("rebate"),
        )
    )
    for row in rows:
        figures = by_partner[row["partner_id"]]
        figures.sent, figures.paid, figures.returned = row["sent"], row["paid"], row["returned"]
        figures.revenue, figures.rebate = row["revenue_sum"] or ZERO, row["rebate_sum"] or ZERO
    return sorted(by_partner.values(), key=lambda f: (-f.revenue, -f.sent, f.partner.name))


PEOPLE_STAGES = ("sent", "paid", "returned")


@dataclass
class PersonRow:
    person: str
    member_id: int
    linkable: bool
    sent_at: dt.datetime
    paid_visits: int
    revenue: Decimal
    rebate: Decimal


def partner_people(
    user, partner: Partner, *, stage: str = "sent", month: dt.date | None = None
) -> list[PersonRow]:
    """The people behind a number of the analysis (masked as the user's role requires)."""
    qs = _cohort(Partner.objects.filter(pk=partner.pk), month).select_related("member")
    if stage == "paid":
        qs = qs.filter(n_paid__gte=1)
    elif stage == "returned":
        qs = qs.filter(n_paid__gte=2)
    rows = list(qs.order_by("-fixed_at", "pk")[:500])
    visible = visible_member_ids(user, [a.member_id for a in rows])
    return [
        PersonRow(
            person=person_label(a.member, visible),
            member_id=a.member_id,
            linkable=a.member_id in visible,
            sent_at=a.fixed_at,
            paid_visits=a.n_paid,
            revenue=a.revenue,
            rebate=a.rebate,
        )
        for a in rows
    ]
