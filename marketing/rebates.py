"""Rebates of referral partners (转诊单位): accrual at a paid checkout, reversal at a void, and
the monthly statement's settlement. The rules are written out in docs/partners.md.

* **Collected money**: the visit's payments less the stored-value *bonus* part it spent
  (bonus money was given by the clinic, never paid by anyone). The collected amount is spread
  over the charge lines in proportion to their net amounts (after tier, coupons, allowances,
  manual discounts: ``ChargeLine.net_amount``).
* **Which term**: among the partner's terms valid on the day of the checkout (Shanghai time),
  per charge line one percentage term applies — a term of the line's own category before an
  all-categories term, then the latest ``valid_from``, then the newest row. A fixed-amount
  term pays once, for the person's first paid visit, chosen by the same rule among the terms
  that cover any line of that visit. A partner may have both kinds at once.
* **Idempotency**: one row per (visit, term), key ``visit:<id>:rebate:<term>``; its reversal
  ``visit:<id>:rebate:<term>:reversal``. Both keys are unique in the database, and the visit
  row is locked while they are written, so a re-delivered signal, a double checkout submit or
  a second void never creates or loses a rebate.
* **Statements**: a row lands on the statement of its month (the checkout's month for an
  accrual; the accrual's month for a reversal); when that statement is settled already, on
  the next month that is still open. A settled statement never changes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.models import Visit, VisitStatus
from clinic.money import ZERO, format_cny, percent_of, to_money
from clinic.services import audit_record

from .errors import MarketingError
from .models import (
    Attribution,
    Partner,
    Rebate,
    RebateEntryKind,
    RebateKind,
    RebateTerm,
    Statement,
    StatementStatus,
)

log = logging.getLogger(__name__)

SETTLE_PERM = "marketing.settle_rebate"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def local_month(at: dt.datetime) -> dt.date:
    return month_start(timezone.localtime(at).date())


def accrual_key(visit_id: int, term_id: int) -> str:
    return f"visit:{visit_id}:rebate:{term_id}"


def collected_amount(visit: Visit) -> Decimal:
    """What the checkout actually collected: the amount paid (every method; the paid part of
    stored value is money the person handed over at top-up) less the stored-value bonus part
    it spent. Never below zero."""
    from loyalty.selectors import stored_value_for_source

    paid = to_money(visit.amount_paid)
    spent = stored_value_for_source(f"visit:{visit.pk}")
    bonus = to_money(spent["bonus"]) if spent else ZERO
    return max(paid - bonus, ZERO)


def _specificity(term: RebateTerm) -> tuple:
    return (term.category_id is not None, term.valid_from, term.pk)


def resolve_term(terms: list[RebateTerm], category_id: int) -> RebateTerm | None:
    """The term that applies to a line of ``category_id``: its own category's term before an
    all-categories one, then the latest start, then the newest row."""
    covering = [t for t in terms if t.category_id in (None, category_id)]
    return max(covering, key=_specificity, default=None)


def terms_on(partner: Partner, day: dt.date) -> list[RebateTerm]:
    return list(
        partner.terms.filter(valid_from__lte=day).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=day)
        )
    )


def is_first_paid_visit(visit: Visit) -> bool:
    """No earlier checked-out (not voided) visit of the person with money paid."""
    earlier = Visit.objects.filter(
        member_id=visit.member_id, status=VisitStatus.CHECKED_OUT, amount_paid__gt=0
    ).exclude(pk=visit.pk)
    earlier = earlier.filter(
        Q(checked_out_at__lt=visit.checked_out_at) | Q(checked_out_at=visit.checked_out_at, pk__lt=visit.pk)
    )
    return not earlier.exists()


def _open_statement(partner: Partner, month: dt.date) -> Statement:
    """The statement of ``month`` locked for writing, or of the first later month that is
    not settled (a settled statement never takes a new line). The row lock serialises new
    lines with settlement."""
    while True:
        try:
            with transaction.atomic():
                statement, _created = Statement.objects.get_or_create(partner=partner, month=month)
        except IntegrityError:  # created by a concurrent checkout between the get and the insert
            statement = Statement.objects.get(partner=partner, month=month)
        statement = Statement.objects.select_for_update().get(pk=statement.pk)
        if statement.status == StatementStatus.OPEN:
            return statement
        month = next_month(month)


def _add_line(statement: Statement, **fields) -> Rebate:
    line = Rebate.objects.create(partner_id=statement.partner_id, statement=statement, **fields)
    Statement.objects.filter(pk=statement.pk).update(total=_line_total(statement))
    return line


def _line_total(statement: Statement) -> Decimal:
    return to_money(statement.lines.aggregate(total=Sum("amount"))["total"] or ZERO)


def _attributed_partner(visit: Visit) -> Partner | None:
    attribution = Attribution.objects.filter(member_id=visit.member_id).select_related("partner").first()
    return attribution.partner if attribution and attribution.partner_id else None


def _lock_visit(visit: Visit) -> Visit:
    return Visit.objects.select_for_update(of=("self",)).select_related("member").get(pk=visit.pk)


@transaction.atomic
def rebates_accrue(*, visit: Visit, actor=None) -> list[Rebate]:
    """The rebates a checked-out visit earns its person's partner (see the module rules).
    Returns the rows created now (none when they exist already, the visit is not checked
    out, the person has no active partner or no term applies)."""
    visit = _lock_visit(visit)
    if visit.status != VisitStatus.CHECKED_OUT or visit.checked_out_at is None:
        return []
    partner = _attributed_partner(visit)
    if partner is None or not partner.is_active:
        return []
    terms = terms_on(partner, timezone.localtime(visit.checked_out_at).date())
    if not terms:
        return []
    lines = list(visit.lines.select_related("item").order_by("id"))
    collected = collected_amount(visit)
    due = to_money(visit.amount_due)
    if collected <= 0 or due <= 0:
        return []
    ratio = collected / due
    percent_terms = [t for t in terms if t.kind == RebateKind.PERCENT]
    net_by_term: dict[RebateTerm, Decimal] = defaultdict(lambda: ZERO)
    names_by_term: dict[RebateTerm, list[str]] = defaultdict(list)
    paid_lines = [line for line in lines if line.net_amount > 0]
    for line in paid_lines:
        term = resolve_term(percent_terms, line.item.category_id)
        if term is not None:
            net_by_term[term] += line.net_amount
            names_by_term[term].append(line.item.name)
    wanted: list[tuple[RebateTerm, Decimal, Decimal, list[str]]] = []
    for term, net in net_by_term.items():
        base = to_money(net * ratio)
        wanted.append((term, base, percent_of(base, term.percent), names_by_term[term]))
    fixed_terms = [t for t in terms if t.kind == RebateKind.FIXED]
    if fixed_terms and is_first_paid_visit(visit):
        candidates = {resolve_term(fixed_terms, line.item.category_id) for line in paid_lines}
        candidates.discard(None)
        if candidates:
            term = max(candidates, key=_specificity)
            wanted.append((term, collected, to_money(term.amount), [line.item.name for line in paid_lines]))
    keys = {accrual_key(visit.pk, w[0].pk) for w in wanted}
    done = set(Rebate.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True))
    created = []
    month = local_month(visit.checked_out_at)
    for term, base, amount, names in sorted(wanted, key=lambda w: w[0].pk):
        key = accrual_key(visit.pk, term.pk)
        if key in done or amount <= 0:
            continue
        statement = _open_statement(partner, month)
        row = _add_line(
            statement,
            kind=RebateEntryKind.ACCRUAL,
            term=term,
            visit=visit,
            base=base,
            amount=amount,
            services="、".join(dict.fromkeys(names))[:255],
            idempotency_key=key,
        )
        audit_record(
            actor=actor,
            action="marketing.rebate.accrued",
            target=row,
            branch=partner.branch,
            changes={
                "partner": partner.pk,
                "visit": visit.pk,
                "term": term.pk,
                "base": base,
                "amount": amount,
                "statement": f"{statement.month:%Y-%m}",
            },
        )
        created.append(row)
    return created


def _reversal_month(accrual: Rebate) -> dt.date:
    """A reversal's month: the rebate's own while its statement is open, else from now on."""
    if not accrual.statement.is_settled:
        return accrual.statement.month
    return max(local_month(timezone.now()), accrual.statement.month)


def _reverse_part(
    *, actor, visit: Visit, accrual: Rebate, amount: Decimal, base: Decimal, key: str, note: str
) -> Rebate | None:
    if amount <= 0 or Rebate.objects.filter(idempotency_key=key).exists():
        return None
    statement = _open_statement(accrual.partner, _reversal_month(accrual))
    row = _add_line(
        statement,
        kind=RebateEntryKind.REVERSAL,
        term=accrual.term,
        visit=visit,
        base=-base,
        amount=-amount,
        reverses=accrual,
        services=accrual.services,
        idempotency_key=key,
        note=note[:200],
    )
    audit_record(
        actor=actor,
        action="marketing.rebate.reversed",
        target=row,
        branch=accrual.partner.branch,
        changes={
            "visit": visit.pk,
            "reverses": accrual.pk,
            "amount": row.amount,
            "statement": f"{statement.month:%Y-%m}",
        },
    )
    return row


def _accruals(visit: Visit) -> list[Rebate]:
    """The visit's rebates, each with ``left`` (amount) and ``base_left`` not yet reversed."""
    rows = list(
        Rebate.objects.filter(visit=visit, kind=RebateEntryKind.ACCRUAL)
        .select_related("statement", "partner__branch", "term")
        .annotate(reversed_amount=Sum("reversals__amount"), reversed_base=Sum("reversals__base"))
        .order_by("id")
    )
    for row in rows:
        row.left = row.amount + (row.reversed_amount or ZERO)
        row.base_left = row.base + (row.reversed_base or ZERO)
    return rows


@transaction.atomic
def rebates_reverse(*, visit: Visit, actor=None) -> list[Rebate]:
    """Reverse what is left of every rebate of a voided visit (after any partial refunds),
    once (key ``…:reversal``), on the rebate's own statement while it is open, else on the
    first open month from the current one. When a first-visit rebate is reversed, the
    person's next paid visit becomes their first and earns it (idempotent like every accrual)."""
    visit = _lock_visit(visit)
    if visit.status != VisitStatus.VOIDED:
        return []
    created = []
    for accrual in _accruals(visit):
        row = _reverse_part(
            actor=actor,
            visit=visit,
            accrual=accrual,
            amount=accrual.left,
            base=accrual.base_left,
            key=f"{accrual.idempotency_key}:reversal",
            note=visit.void_reason or "",
        )
        if row is not None:
            created.append(row)
    if any(r.term and r.term.kind == RebateKind.FIXED for r in created):
        following = (
            Visit.objects.filter(member_id=visit.member_id, status=VisitStatus.CHECKED_OUT, amount_paid__gt=0)
            .order_by("checked_out_at", "pk")
            .first()
        )
        if following is not None:
            created += rebates_accrue(visit=following, actor=actor)
    return created


@transaction.atomic
def rebates_refund(
    *, visit: Visit, refunded: Decimal, refund_key: str, actor=None, note: str = ""
) -> list[Rebate]:
    """A partial refund of ``refunded`` of a checked-out visit's collected money reverses its
    rebates in proportion (DESIGN.md §3 ``visit_refund``): each rebate loses
    ``amount × refunded / collected`` (never more than is left of it), key
    ``…:refund:<refund_key>``, on the same statements as a void's reversal. A later void
    reverses only what is left. For appointments' refund signal when it exists."""
    visit = _lock_visit(visit)
    collected = collected_amount(visit)
    refunded = to_money(refunded)
    if collected <= 0 or refunded <= 0:
        return []
    share = min(refunded / collected, Decimal(1))
    created = []
    for accrual in _accruals(visit):
        row = _reverse_part(
            actor=actor,
            visit=visit,
            accrual=accrual,
            amount=min(to_money(accrual.amount * share), accrual.left),
            base=min(to_money(accrual.base * share), accrual.base_left),
            key=f"{accrual.idempotency_key}:refund:{refund_key}",
            note=note,
        )
        if row is not None:
            created.append(row)
    return created


@transaction.atomic
def statement_settle(
    *, actor, statement: Statement, paid_amount: Decimal, reference: str, note: str = ""
) -> Statement:
    """Mark a month's statement paid: only after the month has ended, for exactly its total,
    with the payment's reference; audited. From then on it never changes (new lines go to the
    next month). A statement whose reversals exceed its rebates is closed at zero and its
    negative balance is carried to the next month (two lines, ``statement:<id>:carry…``)."""
    if not actor.has_perm(SETTLE_PERM):
        raise MarketingError(_("You may not settle rebate statements."), code="forbidden")
    statement = Statement.objects.select_for_update().select_related("partner__branch").get(pk=statement.pk)
    if statement.is_settled:
        raise MarketingError(_("This statement is settled already."), code="state")
    if statement.month >= local_month(timezone.now()):
        raise MarketingError(_("A month can be settled only after it has ended."), code="state")
    reference = (reference or "").strip()
    total = _line_total(statement)
    carried = ZERO
    if total < 0:
        carried = -total
        following = _open_statement(statement.partner, next_month(statement.month))
        _add_line(
            following,
            kind=RebateEntryKind.CARRY_IN,
            base=ZERO,
            amount=total,
            idempotency_key=f"statement:{statement.pk}:carry:in",
            note=f"{statement.month:%Y-%m}",
        )
        _add_line(
            statement,
            kind=RebateEntryKind.CARRY_OUT,
            base=ZERO,
            amount=carried,
            idempotency_key=f"statement:{statement.pk}:carry",
            note=f"{following.month:%Y-%m}",
        )
        total = ZERO
    paid_amount = to_money(paid_amount)
    if paid_amount != total:
        raise MarketingError(
            _("The amount paid (%(paid)s) must be the statement's total (%(total)s).")
            % {"paid": format_cny(paid_amount), "total": format_cny(total)},
            field="paid_amount",
        )
    if total > 0 and not reference:
        raise MarketingError(
            _("Give the payment's reference (transfer or voucher number)."), field="reference"
        )
    statement.status, statement.total, statement.paid_amount = StatementStatus.SETTLED, total, paid_amount
    statement.reference, statement.settle_note = reference[:100], (note or "").strip()[:200]
    statement.settled_at, statement.settled_by = timezone.now(), actor if getattr(actor, "pk", None) else None
    statement.save()
    audit_record(
        actor=actor,
        action="marketing.statement.settled",
        target=statement,
        branch=statement.partner.branch,
        changes={
            "partner": statement.partner_id,
            "month": f"{statement.month:%Y-%m}",
            "status": ["open", "settled"],
            "paid_amount": paid_amount,
            "reference": reference,
            "carried": carried or None,
        },
    )
    return statement
