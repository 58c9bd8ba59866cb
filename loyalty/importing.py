"""The member import's loyalty columns (registered with ``members.registry`` at start-up):
会员卡号, 会员等级, 积分余额 / 积分到期日, 累计消费 / 近12个月消费 / 消费次数, 储值余额.

- the card keeps the old system's own format (no check digit is added or required);
- the tier is set with a ``TierChange`` whose cause is ``migration``; old names map to ours
  by name, English name or code, then through ``LOYALTY_IMPORT_TIER_ALIASES`` ("VIP" → the
  top tier's code);
- the points balance is credited through the ledger as opening-balance lots (the old expiry
  date, else the policy's), keyed per (file, row): importing the same file twice credits once;
- spend counts toward tiers as ``Purchase`` rows keyed per (file, row): the last 12 months'
  spend (with the visit count, up to what any tier asks for) now, the rest 13 months ago;
- 储值余额 becomes an opening entry of the stored-value ledger (all paid part), keyed per
  (file, row).

A person who already has a membership keeps their card and tier (fill only what is empty);
their points from the file are still credited once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from members.importer import parse_date
from members.models import Member, Stage
from members.registry import ImportColumns, ImportHandler, register_import_columns

from .errors import LoyaltyError
from .models import Membership, Purchase, Tier, TierCause, TierChange
from .services.ledger import OpeningBalance, add_months, points_open_balances
from .services.stored_value import stored_value_open_balance

HEADERS = {
    "会员卡号": "card_no",
    "卡号": "card_no",
    "card_no": "card_no",
    "会员等级": "tier",
    "等级": "tier",
    "tier": "tier",
    "积分余额": "points",
    "积分": "points",
    "可用积分": "points",
    "points": "points",
    "积分到期日": "points_expiry",
    "积分有效期": "points_expiry",
    "points_expiry": "points_expiry",
    "累计消费": "total_spend",
    "消费总额": "total_spend",
    "total_spend": "total_spend",
    "近12个月消费": "spend_12m",
    "spend_12m": "spend_12m",
    "消费次数": "visits",
    "就诊次数": "visits",
    "visits": "visits",
    "储值余额": "stored_value",
    "stored_value": "stored_value",
}
LABELS = {
    "card_no": "会员卡号",
    "tier": "会员等级",
    "points": "积分余额",
    "points_expiry": "积分到期日",
    "total_spend": "累计消费",
    "spend_12m": "近12个月消费",
    "visits": "消费次数",
    "stored_value": "储值余额",
}


def _money(text: str) -> Decimal:
    value = Decimal(text.replace(",", "").replace("¥", "").replace("元", "").strip())
    if value < 0 or value.as_tuple().exponent < -2:
        raise InvalidOperation
    return value


class LoyaltyImport(ImportHandler):
    def __init__(self):
        self.tiers = {}
        for tier in Tier.objects.filter(is_active=True):
            for name in {tier.code, tier.name, getattr(tier, "name_en", "") or ""}:
                if name:
                    self.tiers[name.lower()] = tier
        aliases = getattr(settings, "LOYALTY_IMPORT_TIER_ALIASES", {"vip": "diamond"})
        for alias, code in aliases.items():
            tier = self.tiers.get(code.lower())
            if tier is not None:
                self.tiers.setdefault(alias.lower(), tier)
        self.entry = min(self.tiers.values(), key=lambda t: t.rank, default=None)
        self.max_visits = Tier.objects.aggregate(m=Max("qualify_visits"))["m"] or 0
        self.today = timezone.localdate()
        self.seen_cards: set[str] = set()
        self.registered_cards = dict(Membership.objects.values_list("card_no", "member_id"))

    def check(self, row: dict, err) -> dict:
        out: dict = {}
        card = " ".join(str(row.get("card_no") or "").split())
        if card:
            if len(card) > 32:
                err(LABELS["card_no"], _("The card number is longer than 32 characters."))
            elif card in self.seen_cards:
                err(LABELS["card_no"], _("Duplicate: the same card number appears earlier in the file."))
            else:
                self.seen_cards.add(card)
                out["card_no"] = card
                if card not in self.registered_cards:
                    out["_member"] = {"card_no": card, "stage": Stage.MEMBER}
        tier_name = str(row.get("tier") or "").strip()
        if tier_name:
            tier = self.tiers.get(tier_name.lower())
            if tier is None:
                err(LABELS["tier"], _("Unknown tier: %(value)s") % {"value": tier_name})
            else:
                out["tier"] = tier.code
        for field in ("points", "visits"):
            text = str(row.get(field) or "").replace(",", "").strip()
            if text:
                try:
                    value = int(Decimal(text))
                    if value < 0 or Decimal(text) != value:
                        raise InvalidOperation
                    out[field] = value
                except InvalidOperation:
                    err(LABELS[field], _("Not a whole number of 0 or more: %(value)s") % {"value": text})
        try:
            expiry = parse_date(row.get("points_expiry"))
            if expiry and expiry < self.today:
                err(LABELS["points_expiry"], _("These points expired on %(date)s.") % {"date": expiry})
            elif expiry:
                out["points_expiry"] = expiry.isoformat()
        except ValueError:
            err(
                LABELS["points_expiry"],
                _("Bad date: %(value)s (use 2020-01-31)") % {"value": row.get("points_expiry")},
            )
        for field in ("total_spend", "spend_12m", "stored_value"):
            text = str(row.get(field) or "").strip()
            if text:
                try:
                    out[field] = str(_money(text))
                except InvalidOperation:
                    err(LABELS[field], _("Not an amount in yuan: %(value)s") % {"value": text})
        if (out.get("card_no") or out.get("tier") or out.get("points")) and "_member" not in out:
            out["_member"] = {"stage": Stage.MEMBER}
        return out

    def commit(self, *, actor, job, rows: list[tuple[int, int, dict]]) -> int:
        prefix = f"import:{job.source_digest[:20] or job.pk}"
        now = timezone.now()
        today = timezone.localdate(now)
        actor_ref = actor if getattr(actor, "pk", None) else None
        ids = [member_id for member_id, _row, _v in rows]
        have = set(Membership.objects.filter(member_id__in=ids).values_list("member_id", flat=True))
        cards = dict(Member.objects.filter(pk__in=ids).values_list("pk", "card_no"))
        tiers = {t.code: t for t in self.tiers.values()}
        memberships, changes, purchases, openings, balances = [], [], [], [], []
        for member_id, number, values in rows:
            key = f"{prefix}:{number}"
            wants = values.get("card_no") or values.get("tier") or values.get("points")
            if wants and member_id not in have:
                card = cards.get(member_id) or values.get("card_no")
                owner = self.registered_cards.get(card) if card else None
                if owner is not None and owner != member_id:
                    raise LoyaltyError(
                        _("Row %(row)s: card number %(card)s belongs to another member.")
                        % {"row": number, "card": card}
                    )
                if not card:
                    from .services.enrolment import card_number_next

                    card = card_number_next(job.branch)
                    Member.objects.filter(pk=member_id, card_no__isnull=True).update(card_no=card)
                tier = tiers.get(values.get("tier")) or self.entry
                if tier is None:
                    raise LoyaltyError(
                        _("No tier is set up: HQ must configure the tiers first."), code="no_tier"
                    )
                memberships.append(
                    Membership(
                        member_id=member_id,
                        card_no=card,
                        branch=job.branch,
                        tier=tier,
                        enrolled_by=actor_ref,
                        tier_since=today,
                        review_on=add_months(today, 12),
                    )
                )
                self.registered_cards[card] = member_id
                changes.append(
                    TierChange(
                        member_id=member_id,
                        to_tier=tier,
                        cause=TierCause.MIGRATION,
                        source_key=key,
                        actor=actor_ref,
                        reason=_("Migrated from the old system"),
                    )
                )
            if values.get("points"):
                expiry = values.get("points_expiry")
                openings.append(
                    OpeningBalance(
                        member_id=member_id,
                        points=values["points"],
                        key=f"{key}:points",
                        source_key=key,
                        expires_on=dt.date.fromisoformat(expiry) if expiry else None,
                    )
                )
            recent = Decimal(values.get("spend_12m") or 0)
            total = Decimal(values.get("total_spend") or 0)
            visits = min(values.get("visits") or 0, self.max_visits)
            if recent or visits:
                purchases.append(
                    Purchase(
                        member_id=member_id,
                        branch=job.branch,
                        source_key=f"{key}:12m",
                        amount=recent,
                        counts_as_visit=bool(visits),
                        occurred_at=now,
                    )
                )
                purchases.extend(
                    Purchase(
                        member_id=member_id,
                        branch=job.branch,
                        source_key=f"{key}:visit:{n}",
                        amount=0,
                        counts_as_visit=True,
                        occurred_at=now,
                    )
                    for n in range(2, visits + 1)
                )
            if total > recent:
                purchases.append(
                    Purchase(
                        member_id=member_id,
                        branch=job.branch,
                        source_key=f"{key}:before",
                        amount=total - recent,
                        counts_as_visit=False,
                        occurred_at=now - dt.timedelta(days=400),
                    )
                )
            if values.get("stored_value") and Decimal(values["stored_value"]):
                balances.append((member_id, Decimal(values["stored_value"]), f"{key}:stored_value"))
        _copy(Membership, memberships)
        _copy(TierChange, changes)
        if purchases:  # keyed: a re-run adds none
            done = set(
                Purchase.objects.filter(source_key__in=[p.source_key for p in purchases]).values_list(
                    "source_key", flat=True
                )
            )
            _copy(Purchase, [p for p in purchases if p.source_key not in done])
        points_open_balances(actor=actor, items=openings, audit_target=job)
        # Old balances are few (a clinic's prepaid members): one keyed ledger entry each, all
        # paid part (an old system's export does not tell paid from bonus).
        people = Member.objects.in_bulk([member_id for member_id, _a, _k in balances])
        for member_id, amount, balance_key in balances:
            stored_value_open_balance(
                actor=actor,
                member=people[member_id],
                paid=amount,
                idempotency_key=balance_key,
                reason=_("Migrated from the old system"),
                branch=job.branch,
            )
        return len(rows)


def _copy(model, objs: list) -> None:
    """Insert ``objs`` with COPY (the ORM's bulk insert costs more per row than the database
    does). Row triggers (history, append-only guards) fire as for any insert."""
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    sql = f"COPY {model._meta.db_table} ({', '.join(f.column for f in fields)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for obj in objs:
            copy.write_row([f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields])


def register() -> None:
    register_import_columns(
        ImportColumns(key="loyalty", headers=HEADERS, labels=LABELS, handler=LoyaltyImport)
    )
