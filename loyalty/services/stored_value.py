"""Stored value (储值): the only code that changes a stored-value balance.

Invariants, for every account, at every commit:

- ``paid_balance == SUM(entries.paid)`` and ``bonus_balance == SUM(entries.bonus)``, each >= 0
  (CHECK constraints on both cached parts and on every entry's ``*_after``);
- entries are never updated or deleted (a database trigger): a void is a ``restore`` entry,
  a refund a ``refund`` entry;
- every entry carries an idempotency key unique in the database, so a retry, a double click
  or a re-run import never applies twice.

Rules (docs/loyalty.md, "Stored value"):

- a top-up adds the money paid as the *paid* part, and the bonus of the best active
  ``StoredValueBonusRule`` it reaches as the *bonus* part;
- a spend takes the **paid part first, then the bonus part**, so what is left refundable is
  never more than what the member has not yet used of their own money;
- a refund pays back only paid part, and forfeits the bonus in the same proportion (a refund
  of all the paid part forfeits all the bonus): a bonus exists because money stays with the
  clinic, and must not be spent after that money went back;
- a void of a visit restores exactly the parts its spend took.

Every function that writes locks the account row first (``select_for_update``): the lock is
what stops two checkouts from both spending the same balance.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch
from clinic.money import ZERO, MoneyError, format_cny, to_money
from clinic.services import audit_record
from members.models import Member

from ..errors import LoyaltyError
from ..models import (
    StoredValueAccount,
    StoredValueBonusRule,
    StoredValueDrift,
    StoredValueEntry,
    StoredValueKind,
    StoredValueMethod,
)

log = logging.getLogger(__name__)

TOP_UP_PERMISSION = "loyalty.top_up_stored_value"
REFUND_PERMISSION = "loyalty.refund_stored_value"
DEFAULT_TOP_UP_MAX = Decimal("200000.00")


# --- helpers -----------------------------------------------------------------------------


def top_up_max() -> Decimal:
    return to_money(getattr(settings, "LOYALTY_STORED_VALUE_TOP_UP_MAX", DEFAULT_TOP_UP_MAX))


def _amount(value, *, field: str = "amount") -> Decimal:
    try:
        amount = to_money(value)
    except MoneyError as exc:
        raise LoyaltyError(_("Enter an amount of money."), field=field) from exc
    if amount <= 0:
        raise LoyaltyError(_("Enter an amount greater than zero."), field=field)
    return amount


def bonus_rule_for(amount: Decimal, *, on: dt.date | None = None) -> StoredValueBonusRule | None:
    """The active rule with the highest threshold that ``amount`` reaches on day ``on``."""
    on = on or timezone.localdate()
    rules = StoredValueBonusRule.objects.filter(is_active=True, threshold__lte=amount)
    for rule in rules.order_by("-threshold", "-bonus", "id"):
        if (rule.valid_from is None or rule.valid_from <= on) and (
            rule.valid_until is None or on <= rule.valid_until
        ):
            return rule
    return None


def open_account(member: Member) -> StoredValueAccount | None:
    return StoredValueAccount.objects.filter(member=member, is_open=True).first()


def _ensure_account(member: Member) -> None:
    if open_account(member) is None:
        try:
            with transaction.atomic():
                StoredValueAccount.objects.create(member=member)
        except IntegrityError:  # opened concurrently: the unique partial index decided
            pass


def _lock(member: Member, *, create: bool = False) -> StoredValueAccount:
    if create:
        _ensure_account(member)
    # This row lock is what stops two spends (two checkouts) from both taking one balance.
    account = StoredValueAccount.objects.select_for_update().filter(member=member, is_open=True).first()
    if account is None:
        raise LoyaltyError(_("This person has no stored value."), code="no_account", field="amount")
    return account


def _existing(key: str) -> StoredValueEntry | None:
    entry = StoredValueEntry.objects.filter(idempotency_key=key).first()
    if entry is not None:
        entry.was_created = False
    return entry


def _check_member(member: Member) -> None:
    if not member.is_active:
        raise LoyaltyError(_("This record is closed (merged or erased)."), code="state")


def _apply(
    account: StoredValueAccount,
    *,
    kind: str,
    paid: Decimal,
    bonus: Decimal,
    key: str,
    actor,
    branch: Branch | None = None,
    method: str = "",
    source_key: str = "",
    reason: str = "",
    reference: str = "",
    reverses: StoredValueEntry | None = None,
) -> StoredValueEntry:
    """Write one entry and move the cached parts by it. The account must be locked."""
    now = timezone.now()
    account.paid_balance = to_money(account.paid_balance + paid)
    account.bonus_balance = to_money(account.bonus_balance + bonus)
    entry = StoredValueEntry.objects.create(
        account=account,
        kind=kind,
        paid=paid,
        bonus=bonus,
        paid_after=account.paid_balance,
        bonus_after=account.bonus_balance,
        method=method,
        branch=branch,
        idempotency_key=key,
        source_key=source_key,
        reason=(reason or "")[:300],
        reference=(reference or "")[:100],
        reverses=reverses,
        actor=actor if getattr(actor, "pk", None) else None,
        created_at=now,
    )
    account.updated_at = now
    account.save(update_fields=["paid_balance", "bonus_balance", "updated_at"])
    entry.was_created = True
    return entry


def _audit(actor, action: str, member: Member, entry: StoredValueEntry, **extra) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=member,
        branch=entry.branch,
        changes={
            "entry": entry.pk,
            "kind": entry.kind,
            "paid": entry.paid,
            "bonus": entry.bonus,
            "paid_after": entry.paid_after,
            "bonus_after": entry.bonus_after,
            "key": entry.idempotency_key,
            **extra,
        },
    )


def split_spend(account: StoredValueAccount, amount: Decimal) -> tuple[Decimal, Decimal]:
    """(paid, bonus) that a spend of ``amount`` takes: the paid part first, then the bonus."""
    paid = min(account.paid_balance, amount)
    return paid, amount - paid


# --- services ----------------------------------------------------------------------------


@transaction.atomic
def stored_value_top_up(
    *,
    actor,
    member: Member,
    amount: Decimal,
    method: str,
    idempotency_key: str,
    branch: Branch | None = None,
    reference: str = "",
) -> StoredValueEntry:
    """Put money on the member's stored value (充值): ``amount`` as the paid part, plus the
    bonus of the best active rule it reaches as the bonus part. Needs
    ``loyalty.top_up_stored_value``; audited. Idempotent on the key (a double submit returns
    the first entry with ``was_created`` False)."""
    if actor is None or not actor.has_perm(TOP_UP_PERMISSION):
        raise LoyaltyError(_("Your role may not top up stored value."), code="forbidden")
    amount = _amount(amount)
    if amount > top_up_max():
        raise LoyaltyError(
            _("A single top-up may be at most %(max)s.") % {"max": format_cny(top_up_max())}, field="amount"
        )
    if method not in StoredValueMethod.values:
        raise LoyaltyError(_("Choose how the money was paid."), field="method")
    if not idempotency_key:
        raise ValueError("a top-up needs an idempotency key")
    _check_member(member)
    account = _lock(member, create=True)
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing
    rule = bonus_rule_for(amount)
    entry = _apply(
        account,
        kind=StoredValueKind.TOP_UP,
        paid=amount,
        bonus=to_money(rule.bonus) if rule else ZERO,
        key=idempotency_key,
        actor=actor,
        branch=branch or member.branch,
        method=method,
        reason=rule.name if rule else "",
        reference=reference,
    )
    _audit(actor, "loyalty.stored_value.topped_up", member, entry, rule=rule.pk if rule else None)
    return entry


@transaction.atomic
def stored_value_spend(
    *,
    actor,
    member: Member,
    amount: Decimal,
    idempotency_key: str,
    source_key: str = "",
    branch: Branch | None = None,
) -> StoredValueEntry:
    """Pay ``amount`` from the balance (a checkout): the paid part first, then the bonus part.
    Refused when the balance does not cover it. Idempotent on the key."""
    amount = _amount(amount)
    if not idempotency_key:
        raise ValueError("a spend needs an idempotency key")
    account = _lock(member)
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing
    if account.balance < amount:
        raise LoyaltyError(
            _("Not enough stored value: the balance is %(balance)s, %(amount)s is needed.")
            % {"balance": format_cny(account.balance), "amount": format_cny(amount)},
            code="insufficient",
            field="amount",
        )
    paid, bonus = split_spend(account, amount)
    entry = _apply(
        account,
        kind=StoredValueKind.SPEND,
        paid=-paid,
        bonus=-bonus,
        key=idempotency_key,
        actor=actor,
        branch=branch,
        source_key=source_key,
    )
    _audit(actor, "loyalty.stored_value.spent", member, entry, source=source_key)
    return entry


@transaction.atomic
def stored_value_restore(*, actor, source_key: str, reason: str = "") -> list[StoredValueEntry]:
    """Give back what the spends recorded under ``source_key`` took (a voided visit): a
    ``restore`` entry per spend with exactly its paid and bonus parts (key
    ``<spend key>:restore``). Returns the entries written now; a second call writes none."""
    written = []
    for spend in StoredValueEntry.objects.filter(
        source_key=source_key, kind=StoredValueKind.SPEND
    ).select_related("account"):
        key = f"{spend.idempotency_key}:restore"
        account = StoredValueAccount.objects.select_for_update().get(pk=spend.account_id)
        if _existing(key) is not None:
            continue
        if not account.is_open:
            # The person was merged: the balance moved to the kept record's account.
            member = account.member
            while member.merged_into_id:
                member = member.merged_into
            account = _lock(member, create=True)
        entry = _apply(
            account,
            kind=StoredValueKind.RESTORE,
            paid=-spend.paid,
            bonus=-spend.bonus,
            key=key,
            actor=actor,
            branch=spend.branch,
            source_key=source_key,
            reason=reason,
            reverses=spend,
        )
        _audit(actor, "loyalty.stored_value.restored", account.member, entry, reverses=spend.pk)
        written.append(entry)
    return written


def refund_split(account: StoredValueAccount, amount: Decimal) -> tuple[Decimal, Decimal]:
    """(paid, bonus) that a refund of ``amount`` takes: the paid amount, and the bonus in the
    same proportion of the paid balance (all of it when the whole paid part goes back)."""
    if amount >= account.paid_balance:
        return account.paid_balance, account.bonus_balance
    return amount, min(account.bonus_balance, to_money(account.bonus_balance * amount / account.paid_balance))


@transaction.atomic
def stored_value_refund(
    *,
    actor,
    member: Member,
    amount: Decimal,
    method: str,
    reason: str,
    idempotency_key: str,
    branch: Branch | None = None,
) -> StoredValueEntry:
    """Pay back unspent paid part to the member (退储值). Needs ``loyalty.refund_stored_value``
    and a reason; never more than the paid balance; the bonus is forfeited in proportion
    (``refund_split``). Audited; idempotent on the key."""
    if actor is None or not actor.has_perm(REFUND_PERMISSION):
        raise LoyaltyError(_("Your role may not refund stored value."), code="forbidden")
    amount = _amount(amount)
    reason = (reason or "").strip()
    if not reason:
        raise LoyaltyError(_("Give the reason for the refund."), field="reason")
    if method not in StoredValueMethod.values:
        raise LoyaltyError(_("Choose how the money is paid back."), field="method")
    if not idempotency_key:
        raise ValueError("a refund needs an idempotency key")
    account = _lock(member)
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing
    if amount > account.paid_balance:
        raise LoyaltyError(
            _("At most the unspent paid part (%(paid)s) can be refunded; the bonus is never refunded.")
            % {"paid": format_cny(account.paid_balance)},
            code="insufficient",
            field="amount",
        )
    paid, bonus = refund_split(account, amount)
    entry = _apply(
        account,
        kind=StoredValueKind.REFUND,
        paid=-paid,
        bonus=-bonus,
        key=idempotency_key,
        actor=actor,
        branch=branch or member.branch,
        method=method,
        reason=reason,
    )
    _audit(actor, "loyalty.stored_value.refunded", member, entry, reason=reason)
    return entry


@transaction.atomic
def stored_value_open_balance(
    *,
    actor,
    member: Member,
    paid: Decimal,
    bonus: Decimal = ZERO,
    idempotency_key: str,
    reason: str = "",
    branch: Branch | None = None,
) -> StoredValueEntry:
    """Carry a balance over from an old system (the member import): one ``open`` entry with
    its paid and bonus parts. The caller (the importer) checks who may import; this service
    checks the amounts and the key. Idempotent on the key (use e.g.
    ``import:<batch id>:row:<n>:stored_value``): a re-run import never credits twice."""
    try:
        paid, bonus = to_money(paid or 0), to_money(bonus or 0)
    except MoneyError as exc:
        raise LoyaltyError(_("Enter an amount of money."), field="stored_value") from exc
    if paid < 0 or bonus < 0:
        raise LoyaltyError(_("A stored value balance cannot be negative."), field="stored_value")
    if paid == 0 and bonus == 0:
        raise LoyaltyError(_("Enter an amount greater than zero."), field="stored_value")
    if not idempotency_key:
        raise ValueError("an opening balance needs an idempotency key")
    _check_member(member)
    account = _lock(member, create=True)
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing
    entry = _apply(
        account,
        kind=StoredValueKind.OPEN,
        paid=paid,
        bonus=bonus,
        key=idempotency_key,
        actor=actor,
        branch=branch or member.branch,
        reason=reason,
    )
    _audit(actor, "loyalty.stored_value.opened", member, entry, reason=reason)
    return entry


def stored_value_transfer_on_merge(source: Member, target: Member, *, actor=None) -> Decimal:
    """Move the source's balance to the target's account by ``merge`` entries (both parts
    kept apart) and close the source account. Runs inside the merge transaction."""
    accounts = list(
        StoredValueAccount.objects.select_for_update()
        .filter(member__in=[source, target], is_open=True)
        .order_by("id")  # both rows locked in id order: two merges cannot deadlock
    )
    src = next((a for a in accounts if a.member_id == source.pk), None)
    dst = next((a for a in accounts if a.member_id == target.pk), None)
    if src is None or dst is None:
        return ZERO  # nothing to move, or the whole account follows the member foreign key
    moved = src.balance
    key = f"merge:{source.pk}:{target.pk}:stored_value"
    if moved:
        paid, bonus = src.paid_balance, src.bonus_balance
        _apply(src, kind=StoredValueKind.MERGE, paid=-paid, bonus=-bonus, key=f"{key}:out", actor=actor)
        _apply(dst, kind=StoredValueKind.MERGE, paid=paid, bonus=bonus, key=f"{key}:in", actor=actor)
    src.is_open = False
    src.save(update_fields=["is_open"])
    return moved


# --- reconciliation ----------------------------------------------------------------------

_RECONCILE_SQL = """
SELECT a.id, a.paid_balance, COALESCE(e.paid, 0), a.bonus_balance, COALESCE(e.bonus, 0)
FROM loyalty_storedvalueaccount a
LEFT JOIN (SELECT account_id, SUM(paid) AS paid, SUM(bonus) AS bonus
           FROM loyalty_storedvalueentry GROUP BY account_id) e ON e.account_id = a.id
WHERE a.paid_balance <> COALESCE(e.paid, 0) OR a.bonus_balance <> COALESCE(e.bonus, 0)
ORDER BY a.id
"""


def stored_value_drift_rows() -> list[tuple]:
    """(account, paid balance, sum of paid, bonus balance, sum of bonus) for every account
    whose cache disagrees with its entries, from one consistent snapshot."""
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute(_RECONCILE_SQL)
        return list(cursor.fetchall())


def stored_value_reconcile(*, actor=None) -> list[StoredValueDrift]:
    """Nightly: prove both cached parts equal the sums of the entries for every account.
    Each drifted account gets a ``StoredValueDrift`` row (shown in admin), the run an audit
    row, and the HQ admins an e-mail. Returns the drift rows created."""
    from .ledger_jobs import notify_admins_of_drift

    rows = stored_value_drift_rows()
    if not rows:
        return []
    with transaction.atomic():
        drifts = StoredValueDrift.objects.bulk_create(
            [
                StoredValueDrift(account_id=a, paid_balance=pb, paid_sum=ps, bonus_balance=bb, bonus_sum=bs)
                for a, pb, ps, bb, bs in rows
            ]
        )
        audit_record(
            actor=actor,
            action="loyalty.stored_value.drift_detected",
            changes={"accounts": [r[0] for r in rows[:100]], "count": len(rows)},
        )
        log.error("stored value drift in %s accounts: %s", len(rows), [r[0] for r in rows[:20]])
        notify_admins_of_drift(len(rows), ledger="stored_value")
    return drifts


@transaction.atomic
def stored_value_liability_xlsx(*, actor, as_of: dt.date) -> bytes:
    """The liability report of ``as_of`` as a spreadsheet (cells formula-escaped), audited
    as an export. Needs the report permission and ``clinic.export_data``."""
    from members.exports import workbook_bytes

    from ..selectors import stored_value_liability

    if not (actor.has_perm("loyalty.view_stored_value_report") and actor.has_perm("clinic.export_data")):
        raise LoyaltyError(_("Your role may not export this report."), code="forbidden")
    rows = stored_value_liability(actor, as_of=as_of)
    header = [
        _("Branch"),
        _("Members with a balance"),
        _("Paid part (refundable)"),
        _("Bonus part"),
        _("Total outstanding"),
    ]
    body = [[r.branch_name, r.accounts, r.paid, r.bonus, r.total] for r in rows]
    if rows:
        body.append(
            [
                _("Total"),
                sum(r.accounts for r in rows),
                sum(r.paid for r in rows),
                sum(r.bonus for r in rows),
                sum(r.total for r in rows),
            ]
        )
    audit_record(
        actor=actor,
        action="loyalty.stored_value.liability_exported",
        changes={"as_of": as_of.isoformat(), "branches": len(rows)},
    )
    title = _("Stored value %(date)s") % {"date": as_of.isoformat()}
    return workbook_bytes([(title, header, body)])
