"""The points ledger: the only code that changes a points balance.

Invariants, for every account, at every commit:

- ``balance == SUM(entries.points) == SUM(lots.remaining)``, and all three are >= 0
  (CHECK constraints on the balance, every ``balance_after`` and every lot's ``remaining``);
- entries and lot consumptions are never updated or deleted (database triggers);
- an entry caused from outside carries an idempotency key unique in the database, so a
  retry, a double click or a re-run job never applies twice;
- points are taken from open lots oldest-expiry first (a reversal first from the lots of
  the entry it reverses), and every entry that takes points records which lots it took.

Every function that writes locks the account row first (``select_for_update``): that lock
serialises all writers of one account (the set-based expiry job takes it too), so reading
the lots and then updating them cannot race.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.services import audit_record
from members.models import Member

from ..errors import LoyaltyError
from ..models import (
    EntryKind,
    ExpiryMode,
    LotConsumption,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsPolicy,
)
from ..reasons import PointsReason

log = logging.getLogger(__name__)

ADJUST_PERMISSION = "clinic.adjust_points"


# --- helpers -----------------------------------------------------------------------------


def policy() -> PointsPolicy:
    """The single policy row (created with defaults if an admin deleted it)."""
    row = PointsPolicy.objects.filter(pk=1).first()
    if row is None:
        row, _created = PointsPolicy.objects.get_or_create(pk=1)
    return row


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months; the 31st becomes the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def expiry_date(earned_on: dt.date, rules: PointsPolicy | None = None) -> dt.date:
    """The last day on which points earned on ``earned_on`` may be used."""
    rules = rules or policy()
    if rules.expiry_mode == ExpiryMode.YEAR_END:
        return dt.date(earned_on.year + 1, 12, 31)
    return add_months(earned_on, rules.expiry_months) - dt.timedelta(days=1)


def open_account(member: Member) -> PointsAccount | None:
    return PointsAccount.objects.filter(member=member, is_open=True).first()


def account_open(*, member: Member) -> PointsAccount:
    """The member's open account, created if missing (in the caller's transaction)."""
    account = open_account(member)
    if account is None:
        try:
            with transaction.atomic():
                account = PointsAccount.objects.create(member=member)
        except IntegrityError:  # opened concurrently: the unique partial index decided
            account = PointsAccount.objects.get(member=member, is_open=True)
    return account


def _lock(member: Member, *, create: bool = False) -> PointsAccount:
    if create:
        account_open(member=member)
    # This row lock is what stops two redemptions from both spending the same points.
    account = PointsAccount.objects.select_for_update().filter(member=member, is_open=True).first()
    if account is None:
        raise LoyaltyError(_("This person has no points account: enrol them first."), code="no_account")
    return account


def _existing(key: str | None) -> PointsEntry | None:
    if not key:
        return None
    entry = PointsEntry.objects.filter(idempotency_key=key).first()
    if entry is not None:
        entry.was_created = False
    return entry


def _audit(actor, action: str, member: Member, entry: PointsEntry, **extra) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=member,
        changes={
            "entry": entry.pk,
            "kind": entry.kind,
            "points": entry.points,
            "balance_after": entry.balance_after,
            "key": entry.idempotency_key or "",
            **extra,
        },
    )


def _add(
    account: PointsAccount,
    *,
    kind: str,
    points: int,
    key: str | None,
    actor,
    source_key: str = "",
    reason: str = "",
    earned_at: dt.datetime | None = None,
    expires_on: dt.date | None = None,
) -> PointsEntry:
    """Credit ``points`` as one new lot. The account must be locked by the caller."""
    now = timezone.now()
    earned_at = earned_at or now
    account.balance += points
    entry = PointsEntry.objects.create(
        account=account,
        kind=kind,
        points=points,
        balance_after=account.balance,
        idempotency_key=key or None,
        source_key=source_key,
        reason=reason[:300],
        actor=actor if getattr(actor, "pk", None) else None,
        created_at=now,
    )
    PointsLot.objects.create(
        account=account,
        entry=entry,
        points=points,
        remaining=points,
        earned_at=earned_at,
        expires_on=expires_on or expiry_date(timezone.localdate(earned_at)),
    )
    account.updated_at = now
    account.save(update_fields=["balance", "updated_at"])
    entry.was_created = True
    return entry


def _take(
    account: PointsAccount,
    *,
    kind: str,
    points: int,
    key: str | None,
    actor,
    source_key: str = "",
    reason: str = "",
    first_lots: Sequence[int] = (),
    reverses: PointsEntry | None = None,
    allow_short: bool = False,
) -> PointsEntry:
    """Debit up to ``points`` from open lots: ``first_lots`` first, then oldest expiry
    first. Without ``allow_short`` a balance that does not cover ``points`` is refused; with
    it, the part that could not be taken is recorded as the entry's ``shortfall``. The
    account must be locked by the caller."""
    if not allow_short and account.balance < points:
        raise LoyaltyError(
            _("Not enough points: the balance is %(balance)s, %(points)s are needed.")
            % {"balance": account.balance, "points": points},
            code="insufficient",
            field="points",
        )
    lots = list(PointsLot.objects.filter(account=account, remaining__gt=0).order_by("expires_on", "id"))
    preferred = set(first_lots)
    lots.sort(key=lambda lot: (lot.id not in preferred, lot.expires_on, lot.id))
    wanted, taken = points, []
    for lot in lots:
        if wanted == 0:
            break
        amount = min(lot.remaining, wanted)
        lot.remaining -= amount
        wanted -= amount
        taken.append((lot, amount))
    took = points - wanted
    now = timezone.now()
    account.balance -= took
    entry = PointsEntry.objects.create(
        account=account,
        kind=kind,
        points=-took,
        balance_after=account.balance,
        idempotency_key=key or None,
        source_key=source_key,
        reason=reason[:300],
        reverses=reverses,
        shortfall=wanted,
        actor=actor if getattr(actor, "pk", None) else None,
        created_at=now,
    )
    if taken:
        PointsLot.objects.bulk_update([lot for lot, _n in taken], ["remaining"])
        LotConsumption.objects.bulk_create(
            [LotConsumption(entry=entry, lot=lot, points=amount) for lot, amount in taken]
        )
    account.updated_at = now
    account.save(update_fields=["balance", "updated_at"])
    entry.was_created = True
    return entry


def _check_points(points: int) -> None:
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise LoyaltyError(_("Enter a whole number of points greater than zero."), field="points")


# --- services ----------------------------------------------------------------------------


@transaction.atomic
def points_earn(
    *,
    actor,
    member: Member,
    points: int,
    idempotency_key: str,
    source_key: str = "",
    reason: str = "",
    earned_at: dt.datetime | None = None,
    audit_action: str = "loyalty.points.earned",
) -> PointsEntry:
    """Credit earned points as a new lot expiring per the policy. Idempotent on the key:
    a second call returns the first entry (``was_created`` False) and changes nothing."""
    _check_points(points)
    if not idempotency_key:
        raise ValueError("an earn needs an idempotency key")
    account = _lock(member)
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing
    entry = _add(
        account,
        kind=EntryKind.EARN,
        points=points,
        key=idempotency_key,
        actor=actor,
        source_key=source_key,
        reason=reason,
        earned_at=earned_at,
    )
    _audit(actor, audit_action, member, entry)
    return entry


@transaction.atomic
def points_redeem(
    *,
    actor,
    member: Member,
    points: int,
    idempotency_key: str,
    reason: str = "",
    source_key: str = "",
) -> PointsEntry:
    """Spend points (for a reward, a discount), oldest expiry first. Refused when the
    balance does not cover them. Idempotent on the key."""
    _check_points(points)
    if not idempotency_key:
        raise ValueError("a redemption needs an idempotency key")
    account = _lock(member)
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing
    entry = _take(
        account,
        kind=EntryKind.REDEEM,
        points=points,
        key=idempotency_key,
        actor=actor,
        source_key=source_key,
        reason=reason,
    )
    _audit(actor, "loyalty.points.redeemed", member, entry)
    return entry


@transaction.atomic
def points_adjust(
    *,
    actor,
    member: Member,
    points: int,
    reason: str,
    idempotency_key: str | None = None,
) -> PointsEntry:
    """A manual grant (``points`` > 0, a new lot) or deduction (< 0, oldest expiry first).
    Needs ``clinic.adjust_points`` and a reason, and at most
    ``LOYALTY_MAX_POINTS_ADJUSTMENT`` points either way; audited with both."""
    if actor is None or not actor.has_perm(ADJUST_PERMISSION):
        raise LoyaltyError(_("Your role may not adjust points."), code="forbidden")
    reason = (reason or "").strip()
    if not reason:
        raise LoyaltyError(_("Give a reason for the adjustment."), field="reason")
    if not isinstance(points, int) or points == 0:
        raise LoyaltyError(_("Enter a whole number of points other than zero."), field="points")
    limit = settings.LOYALTY_MAX_POINTS_ADJUSTMENT
    if abs(points) > limit:
        raise LoyaltyError(
            _("One adjustment may change at most %(limit)d points.") % {"limit": limit}, field="points"
        )
    account = _lock(member)
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing
    if points > 0:
        entry = _add(
            account, kind=EntryKind.ADJUST, points=points, key=idempotency_key, actor=actor, reason=reason
        )
    else:
        entry = _take(
            account, kind=EntryKind.ADJUST, points=-points, key=idempotency_key, actor=actor, reason=reason
        )
    _audit(actor, "loyalty.points.adjusted", member, entry, reason=reason)
    return entry


@transaction.atomic
def points_reverse(
    *,
    actor,
    earn_key: str,
    reason: str = "",
    idempotency_key: str | None = None,
    points: int | None = None,
) -> PointsEntry | None:
    """Take back the points of the entry keyed ``earn_key`` (a refunded or voided visit):
    first what is left of its own lot, then the oldest others. If the member has already
    spent them and the balance cannot cover it, what could not be taken is recorded as the
    entry's ``shortfall`` and in the audit row, never silently dropped. Returns None when
    there was nothing to reverse; idempotent (default key ``<earn_key>:reverse``).

    ``points`` reverses only that many (a partial refund, ``visit_refund``); without it,
    what earlier partial reversals left of the earn. Never more than the earn in total."""
    idempotency_key = idempotency_key or f"{earn_key}:reverse"
    original = PointsEntry.objects.filter(idempotency_key=earn_key).select_related("account").first()
    if original is None or original.points <= 0:
        return None
    account = PointsAccount.objects.select_for_update().get(pk=original.account_id)
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing
    already = -sum(
        PointsEntry.objects.filter(reverses=original, kind=EntryKind.REVERSE).values_list("points", flat=True)
    ) + sum(
        PointsEntry.objects.filter(reverses=original, kind=EntryKind.REVERSE).values_list(
            "shortfall", flat=True
        )
    )
    left = original.points - already
    wanted = left if points is None else min(points, left)
    if wanted <= 0:
        return None
    if not account.is_open:
        # The person was merged: the points moved to the kept record's account.
        account = PointsAccount.objects.select_for_update().get(
            member_id=account.member.merged_into_id, is_open=True
        )
    lot = PointsLot.objects.filter(entry=original).values_list("id", flat=True).first()
    entry = _take(
        account,
        kind=EntryKind.REVERSE,
        points=wanted,
        key=idempotency_key,
        actor=actor,
        source_key=original.source_key,
        reason=reason,
        first_lots=[lot] if lot else [],
        reverses=original,
        allow_short=True,
    )
    member = account.member
    _audit(actor, "loyalty.points.reversed", member, entry, reverses=original.pk, shortfall=entry.shortfall)
    if entry.shortfall:
        log.warning("points reversal %s short by %s points", idempotency_key, entry.shortfall)
    return entry


@dataclass(frozen=True)
class OpeningBalance:
    member_id: int
    points: int
    key: str
    source_key: str = ""
    expires_on: dt.date | None = None


@transaction.atomic
def points_open_balances(*, actor, items: Sequence[OpeningBalance], audit_target=None) -> int:
    """Credit opening balances (a migration's 积分余额) in bulk: one earn entry and one lot per
    item, expiring on the item's date (else the policy's), accounts opened where missing.
    Idempotent per item key: a key already in the ledger credits nothing. The accounts are
    locked first, like every other writer. One audit row for the batch. Returns points
    credited."""
    items = [i for i in items if i.points > 0]
    if not items:
        return 0
    done = set(
        PointsEntry.objects.filter(idempotency_key__in=[i.key for i in items]).values_list(
            "idempotency_key", flat=True
        )
    )
    todo = [i for i in items if i.key not in done]
    if not todo:
        return 0
    member_ids = {i.member_id for i in todo}
    accounts = {
        a.member_id: a
        for a in PointsAccount.objects.select_for_update().filter(member_id__in=member_ids, is_open=True)
    }
    missing = [PointsAccount(member_id=m) for m in member_ids if m not in accounts]
    for account in PointsAccount.objects.bulk_create(missing):
        accounts[account.member_id] = account
    now = timezone.now()
    default_expiry = expiry_date(timezone.localdate(now))
    actor_ref = actor if getattr(actor, "pk", None) else None
    entries = []
    for item in todo:
        account = accounts[item.member_id]
        account.balance += item.points
        account.updated_at = now
        entries.append(
            PointsEntry(
                account=account,
                kind=EntryKind.EARN,
                points=item.points,
                balance_after=account.balance,
                idempotency_key=item.key,
                source_key=item.source_key,
                reason=PointsReason.OPENING,
                actor=actor_ref,
                created_at=now,
            )
        )
    PointsEntry.objects.bulk_create(entries)
    PointsLot.objects.bulk_create(
        [
            PointsLot(
                account=e.account,
                entry=e,
                points=e.points,
                remaining=e.points,
                earned_at=now,
                expires_on=item.expires_on or default_expiry,
            )
            for e, item in zip(entries, todo, strict=True)
        ]
    )
    # One set-based UPDATE (bulk_update's CASE per row costs more than the inserts).
    touched = {a.pk: a.balance for a in (e.account for e in entries)}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {PointsAccount._meta.db_table} AS a SET balance = v.balance, updated_at = %s
                FROM unnest(%s::bigint[], %s::integer[]) AS v(id, balance) WHERE a.id = v.id""",
            [now, list(touched), list(touched.values())],
        )
    total = sum(i.points for i in todo)
    audit_record(
        actor=actor,
        action="loyalty.points.opening_balances",
        target=audit_target,
        changes={"entries": len(entries), "points": total},
    )
    return total


def points_open_balances_from(*, actor, source_sql: str, params: dict, audit_target=None) -> tuple[int, int]:
    """``points_open_balances`` set-based, for a migration's hundred thousand rows:
    ``source_sql`` selects ``member_id, points, key, source_key, expires_on`` (NULL: the
    policy's expiry) from a staging table. Same invariants as one credit at a time: one earn
    entry and one lot per item, ``balance_after`` running per account, the cached balance
    raised by exactly the sum credited (so balance == sum of entries == sum of open lots),
    accounts opened where missing and locked (id order) before they change, keys already in
    the ledger credit nothing. One audit row. Returns ``(entries, points)`` credited."""
    now = timezone.now()
    values = {
        **params,
        "now": now,
        "default_expiry": expiry_date(timezone.localdate(now)),
        "actor": actor.pk if getattr(actor, "pk", None) else None,
        "reason": PointsReason.OPENING,
    }
    account, entry, lot = (m._meta.db_table for m in (PointsAccount, PointsEntry, PointsLot))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS points_opening")
        cursor.execute(
            f"""CREATE TEMP TABLE points_opening ON COMMIT DROP AS
                SELECT src.member_id, src.points, src.key, src.source_key, src.expires_on
                FROM ({source_sql}) AS src
                WHERE src.points > 0
                  AND NOT EXISTS (SELECT 1 FROM {entry} AS e WHERE e.idempotency_key = src.key)""",
            values,
        )
        cursor.execute(
            f"""INSERT INTO {account} (member_id, balance, is_open, opened_at, updated_at)
                SELECT DISTINCT o.member_id, 0, true, %(now)s, %(now)s FROM points_opening AS o
                WHERE NOT EXISTS (SELECT 1 FROM {account} AS a WHERE a.member_id = o.member_id AND a.is_open)""",
            values,
        )
        # Lock every account this credits, in id order like every other writer.
        cursor.execute(
            f"""SELECT a.id FROM {account} AS a WHERE a.is_open
                  AND a.member_id IN (SELECT member_id FROM points_opening) ORDER BY a.id FOR UPDATE"""
        )
        cursor.execute(
            f"""WITH src AS (
                    SELECT o.*, a.id AS account_id,
                           a.balance + SUM(o.points) OVER (PARTITION BY a.id ORDER BY o.key) AS after
                    FROM points_opening AS o JOIN {account} AS a ON a.member_id = o.member_id AND a.is_open
                ), e AS (
                    INSERT INTO {entry} (account_id, kind, points, balance_after, idempotency_key,
                                         source_key, reason, shortfall, actor_id, created_at)
                    SELECT account_id, 'earn', points, after, key, source_key, %(reason)s, 0, %(actor)s, %(now)s
                    FROM src RETURNING id, account_id, points, idempotency_key
                )
                INSERT INTO {lot} (account_id, entry_id, points, remaining, earned_at, expires_on)
                SELECT e.account_id, e.id, e.points, e.points, %(now)s, COALESCE(src.expires_on, %(default_expiry)s)
                FROM e JOIN src ON src.key = e.idempotency_key""",
            values,
        )
        credited = cursor.rowcount
        cursor.execute(
            f"""UPDATE {account} AS a SET balance = a.balance + t.total, updated_at = %(now)s
                FROM (SELECT member_id, SUM(points) AS total FROM points_opening GROUP BY member_id) AS t
                WHERE a.member_id = t.member_id AND a.is_open""",
            values,
        )
        cursor.execute("SELECT COALESCE(SUM(points), 0) FROM points_opening")
        total = cursor.fetchone()[0]
        cursor.execute("DROP TABLE points_opening")
    if credited:
        audit_record(
            actor=actor,
            action="loyalty.points.opening_balances",
            target=audit_target,
            changes={"entries": credited, "points": total},
        )
    return credited, total


def points_transfer_on_merge(source: Member, target: Member, *, actor=None) -> int:
    """Move the open lots of ``source`` to ``target`` by ledger entries, keeping each lot's
    expiry, and close the source account. Runs inside the merge transaction."""
    accounts = list(
        PointsAccount.objects.select_for_update()
        .filter(member__in=[source, target], is_open=True)
        .order_by("id")  # both rows locked in id order: two merges cannot deadlock
    )
    src = next((a for a in accounts if a.member_id == source.pk), None)
    if src is None:
        return 0
    dst = next((a for a in accounts if a.member_id == target.pk), None)
    if dst is None:
        return 0  # the whole account moves with the member foreign key
    moved = 0
    for lot in PointsLot.objects.filter(account=src, remaining__gt=0).order_by("expires_on", "id"):
        key = f"merge:{source.pk}:{target.pk}:lot:{lot.pk}"
        out = _take(
            src,
            kind=EntryKind.ADJUST,
            points=lot.remaining,
            key=f"{key}:out",
            actor=actor,
            reason=PointsReason.MERGE,
            first_lots=[lot.pk],
        )
        _add(
            dst,
            kind=EntryKind.ADJUST,
            points=-out.points,
            key=f"{key}:in",
            actor=actor,
            reason=PointsReason.MERGE,
            earned_at=lot.earned_at,
            expires_on=lot.expires_on,
        )
        moved += -out.points
    src.is_open = False
    src.save(update_fields=["is_open"])
    return moved
