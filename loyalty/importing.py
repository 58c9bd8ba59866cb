"""The member import's loyalty columns (registered with ``members.registry`` at start-up):
会员卡号, 会员等级, 积分余额 / 积分到期日, 累计消费 / 近12个月消费 / 消费次数, 储值余额.

- the card keeps the old system's own format (no check digit is added or required);
- the tier is set with a ``TierChange`` whose cause is ``migration``; old names map to ours
  by name, English name or code, then through ``LOYALTY_IMPORT_TIER_ALIASES`` ("VIP" → the
  top tier's code);
- the points balance is credited through the ledger as opening-balance lots (the old expiry
  date, else the policy's), keyed per (file, row): importing the same file twice credits once;
- spend counts toward tiers as ``Purchase`` rows keyed per (file, row): the last 12 months'
  spend now, on one row standing for the visit count (``Purchase.visits``, up to what any
  tier asks for), the rest 13 months ago;
- 储值余额 becomes an opening entry of the stored-value ledger (all paid part), keyed per
  (file, row);
- 推荐人 (the referrer's phone or card number) is looked up among the file's rows and the
  people already registered; found, it is recorded as a ``Referral`` in the MIGRATED state
  (the old system settled its reward; none is given here); not found, or several people
  with that phone, the row imports without a referrer and the preview says so.

Everything is written set-based (INSERT … SELECT over the import's staging table), so a
hundred thousand members with their cards, tiers, lots and purchases take seconds.

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
from django.utils.translation import gettext_lazy

from clinic.phones import PhoneError, mask_phone
from clinic.services import audit_record
from members.importer import HashSet, parse_date, parse_phone
from members.models import FamilyLink, Member, MemberStatus, Stage
from members.registry import ImportColumns, ImportHandler, ValueMap, register_import_columns

from .coupon_models import Referral, ReferralStatus
from .errors import LoyaltyError
from .models import Membership, Purchase, Tier, TierCause, TierChange
from .services.ledger import add_months, points_open_balances_from
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
    "推荐人": "referrer",
    "推荐人手机": "referrer",
    "推荐人电话": "referrer",
    "介绍人": "referrer",
    "referrer": "referrer",
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
    "referrer": "推荐人",
}
FIELD_LABELS = {
    "card_no": gettext_lazy("Card number"),
    "tier": gettext_lazy("Tier"),
    "points": gettext_lazy("Points balance"),
    "points_expiry": gettext_lazy("Points expiry date"),
    "total_spend": gettext_lazy("Total spend"),
    "spend_12m": gettext_lazy("Spend in the last 12 months"),
    "visits": gettext_lazy("Number of visits"),
    "stored_value": gettext_lazy("Stored value balance"),
    "referrer": gettext_lazy("Referrer (phone or card number)"),
}


def _money(text: str) -> Decimal:
    value = Decimal(text.replace(",", "").replace("¥", "").replace("元", "").strip())
    if value < 0 or value.as_tuple().exponent < -2:
        raise InvalidOperation
    return value


# The loyalty values of each staged row, typed (the staging table keeps them as jsonb).
_ROWS = """
    SELECT s.row_no, s.member_id, s.is_new, s.phone,
           NULLIF(s.ext->'loyalty'->>'card_no', '') AS card_no,
           s.ext->'loyalty'->>'tier' AS tier,
           COALESCE((s.ext->'loyalty'->>'points')::integer, 0) AS points,
           (s.ext->'loyalty'->>'points_expiry')::date AS points_expiry,
           COALESCE((s.ext->'loyalty'->>'total_spend')::numeric, 0) AS total_spend,
           COALESCE((s.ext->'loyalty'->>'spend_12m')::numeric, 0) AS spend_12m,
           LEAST(COALESCE((s.ext->'loyalty'->>'visits')::integer, 0), %(max_visits)s) AS visits,
           COALESCE((s.ext->'loyalty'->>'stored_value')::numeric, 0) AS stored_value,
           s.ext->'loyalty'->>'referrer_phone' AS referrer_phone,
           s.ext->'loyalty'->>'referrer_card' AS referrer_card,
           false AS enrol
    FROM {table} AS s WHERE s.ext ? %(key)s
"""


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
        self.seen_cards = HashSet()  # hashes: a million-row file stays small
        self.registered_cards = dict(Membership.objects.values_list("card_no", "member_id"))
        self.current_row = 0
        self.referrers: list[tuple[int, str, str]] = []  # (row, "phone" | "card", value)

    def value_maps(self) -> dict[str, ValueMap]:
        ladder = sorted({t.pk: t for t in self.tiers.values()}.values(), key=lambda t: t.rank)
        return {
            "tier": ValueMap(
                choices=[(t.code, t.name) for t in ladder], accepts=lambda text: text.lower() in self.tiers
            )
        }

    def check(self, row: dict, err) -> dict:
        out: dict = {}
        card = " ".join(str(row.get("card_no") or "").split())
        if card:
            if len(card) > 32:
                err(LABELS["card_no"], _("The card number is longer than 32 characters."))
            elif hash(card) in self.seen_cards:
                err(LABELS["card_no"], _("Duplicate: the same card number appears earlier in the file."))
            else:
                self.seen_cards.add(hash(card))
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
        for name in ("points", "visits"):
            text = str(row.get(name) or "").replace(",", "").strip()
            if text:
                try:
                    value = int(Decimal(text))
                    if value < 0 or Decimal(text) != value or value > 2_000_000_000:
                        raise InvalidOperation
                    out[name] = value
                except InvalidOperation:
                    err(LABELS[name], _("Not a whole number of 0 or more: %(value)s") % {"value": text})
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
        for name in ("total_spend", "spend_12m", "stored_value"):
            text = str(row.get(name) or "").strip()
            if text:
                try:
                    value = _money(text)
                    if value >= Decimal("1e10"):
                        raise InvalidOperation
                    out[name] = str(value)
                except InvalidOperation:
                    err(LABELS[name], _("Not an amount in yuan: %(value)s") % {"value": text})
        referrer = " ".join(str(row.get("referrer") or "").split())[:60]
        if referrer:
            digits = sum(ch.isdigit() for ch in referrer)
            try:
                if digits < 11:
                    raise PhoneError(referrer)
                out["referrer_phone"] = parse_phone(referrer)
                self.referrers.append((self.current_row, "phone", out["referrer_phone"]))
            except PhoneError:
                out["referrer_card"] = referrer
                self.referrers.append((self.current_row, "card", referrer))
        if (out.get("card_no") or out.get("tier") or out.get("points")) and "_member" not in out:
            out["_member"] = {"stage": Stage.MEMBER}
        return out

    def finish(self, phone_in_file) -> list[dict]:
        """A notice for every referrer that names nobody, or several people, among the file's
        rows and the people registered: those rows import without a referrer."""
        notices = []
        for start in range(0, len(self.referrers), 5000):
            batch = self.referrers[start : start + 5000]
            phones = {v for _r, kind, v in batch if kind == "phone"}
            cards = {v for _r, kind, v in batch if kind == "card"}
            active = Member.objects.filter(status=MemberStatus.ACTIVE, merged_into__isnull=True)
            registered: dict[str, int] = {}
            for phone in active.filter(phone__in=phones).values_list("phone", flat=True):
                registered[phone] = registered.get(phone, 0) + 1
            known_cards = set(active.filter(card_no__in=cards).values_list("card_no", flat=True))
            known_cards |= set(Membership.objects.filter(card_no__in=cards).values_list("card_no", flat=True))
            for row, kind, value in batch:
                if kind == "phone":
                    found = registered.get(value, 0) + (1 if phone_in_file(value) else 0)
                else:
                    found = 1 if hash(value) in self.seen_cards or value in known_cards else 0
                if found == 1:
                    continue
                message = (
                    _(
                        "Referrer %(value)s: nobody in the file or registered has this phone or card number; the row is imported without a referrer."
                    )
                    if found == 0
                    else _(
                        "Referrer %(value)s: several people have this phone number; the row is imported without a referrer."
                    )
                )
                shown = value if kind == "card" else mask_phone(value)
                notices.append(
                    {
                        "row": row,
                        "column": LABELS["referrer"],
                        "message": message % {"value": shown},
                        "notice": True,
                    }
                )
        return notices

    def commit(self, *, actor, job, table: str, key: str) -> int:
        """Set-based over the staging table: memberships (with a MIGRATION tier change) for
        the rows that bring a card, tier or points and whose person has none; purchases for
        spend and visits; opening points lots through the ledger; stored value; referrals."""
        prefix = f"import:{job.source_digest[:20] or job.pk}"
        now = timezone.now()
        today = timezone.localdate(now)
        params = {
            "key": key,
            "max_visits": self.max_visits,
            "prefix": prefix,
            "now": now,
            "today": today,
            "review": add_months(today, 12),
            "branch": job.branch_id,
            "actor": actor.pk if getattr(actor, "pk", None) else None,
            "entry": self.entry.pk if self.entry else None,
            "reason": _("Migrated from the old system"),
            "before": now - dt.timedelta(days=400),
        }
        member, membership = Member._meta.db_table, Membership._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS import_loyalty")
            cursor.execute(
                "CREATE TEMP TABLE import_loyalty ON COMMIT DROP AS " + _ROWS.format(table=table), params
            )
            cursor.execute("ANALYZE import_loyalty")
            # Who is enrolled here: a card, tier or points, and no membership yet.
            cursor.execute(
                f"""UPDATE import_loyalty AS l SET enrol = true
                    WHERE (l.card_no IS NOT NULL OR l.tier IS NOT NULL OR l.points > 0)
                      AND NOT EXISTS (SELECT 1 FROM {membership} AS ms WHERE ms.member_id = l.member_id)"""
            )
            cursor.execute(
                f"""SELECT l.row_no, COALESCE(m.card_no, l.card_no) FROM import_loyalty AS l
                    JOIN {member} AS m ON m.id = l.member_id
                    JOIN {membership} AS ms ON ms.card_no = COALESCE(m.card_no, l.card_no)
                    WHERE l.enrol AND ms.member_id <> l.member_id ORDER BY l.row_no LIMIT 1"""
            )
            if taken := cursor.fetchone():
                raise LoyaltyError(
                    _("Row %(row)s: card number %(card)s belongs to another member.")
                    % {"row": taken[0], "card": taken[1]}
                )
            cursor.execute(
                f"""SELECT l.member_id FROM import_loyalty AS l JOIN {member} AS m ON m.id = l.member_id
                    WHERE l.enrol AND m.card_no IS NULL AND l.card_no IS NULL ORDER BY l.row_no"""
            )
            cardless = [member_id for (member_id,) in cursor.fetchall()]
            if cardless:
                from .services.enrolment import card_number_next

                cards = [card_number_next(job.branch) for _m in cardless]
                cursor.execute(
                    f"""UPDATE {member} AS m SET card_no = v.card FROM unnest(%s::bigint[], %s::text[]) AS v(id, card)
                        WHERE m.id = v.id AND m.card_no IS NULL""",
                    [cardless, cards],
                )
            cursor.execute("SELECT count(*) FROM import_loyalty WHERE enrol")
            if cursor.fetchone()[0] and self.entry is None:
                raise LoyaltyError(_("No tier is set up: HQ must configure the tiers first."), code="no_tier")
            cursor.execute(
                f"""INSERT INTO {membership} (member_id, card_no, branch_id, tier_id, enrolled_at,
                                               enrolled_by_id, tier_since, review_on)
                    SELECT DISTINCT ON (l.member_id) l.member_id, COALESCE(m.card_no, l.card_no), %(branch)s,
                           COALESCE(t.id, %(entry)s), %(now)s, %(actor)s, %(today)s, %(review)s
                    FROM import_loyalty AS l JOIN {member} AS m ON m.id = l.member_id
                    LEFT JOIN {Tier._meta.db_table} AS t ON t.code = l.tier
                    WHERE l.enrol ORDER BY l.member_id, l.row_no""",
                params,
            )
            enrolled = cursor.rowcount
            cursor.execute(
                f"""INSERT INTO {TierChange._meta.db_table} (member_id, to_tier_id, cause, reason, source_key, actor_id, at)
                    SELECT ms.member_id, ms.tier_id, %(cause)s, %(reason)s, %(prefix)s || ':' || l.row_no, %(actor)s, %(now)s
                    FROM (SELECT DISTINCT ON (member_id) member_id, row_no FROM import_loyalty
                          WHERE enrol ORDER BY member_id, row_no) AS l
                    JOIN {membership} AS ms ON ms.member_id = l.member_id""",
                {**params, "cause": TierCause.MIGRATION},
            )
            # A card makes a member (办卡): people matched from the register move up too.
            cursor.execute(
                f"""UPDATE {member} AS m SET stage = %(stage)s, updated_at = %(now)s
                    FROM import_loyalty AS l WHERE l.enrol AND m.id = l.member_id AND m.stage <> %(stage)s""",
                {**params, "stage": Stage.MEMBER},
            )
            # Spend and visits count toward tiers: the last 12 months now (one row standing
            # for the visits, up to what any tier asks for), the rest 13 months ago.
            cursor.execute(
                f"""INSERT INTO {Purchase._meta.db_table} (member_id, branch_id, source_key, amount,
                        eligible_by_category, counts_as_visit, visits, occurred_at, recorded_at)
                    SELECT member_id, %(branch)s, %(prefix)s || ':' || row_no || ':12m', spend_12m, '{{}}'::jsonb,
                           visits > 0, GREATEST(visits, 1), %(now)s, %(now)s
                    FROM import_loyalty WHERE spend_12m > 0 OR visits > 0
                    UNION ALL
                    SELECT member_id, %(branch)s, %(prefix)s || ':' || row_no || ':before',
                           total_spend - spend_12m, '{{}}'::jsonb, false, 1, %(before)s, %(now)s
                    FROM import_loyalty WHERE total_spend > spend_12m
                    ON CONFLICT (source_key) DO NOTHING""",
                params,
            )
        points_open_balances_from(
            actor=actor,
            source_sql="""SELECT member_id, points, %(prefix)s || ':' || row_no || ':points' AS key,
                                 %(prefix)s || ':' || row_no AS source_key, points_expiry AS expires_on
                          FROM import_loyalty""",
            params={"prefix": prefix},
            audit_target=job,
        )
        self._referrals(actor=actor, params=params, job=job)
        # Old balances are few (a clinic's prepaid members): one keyed ledger entry each, all
        # paid part (an old system's export does not tell paid from bonus).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT member_id, stored_value, row_no FROM import_loyalty WHERE stored_value > 0 ORDER BY row_no"
            )
            balances = cursor.fetchall()
        people = Member.objects.in_bulk([member_id for member_id, _a, _r in balances])
        for member_id, amount, number in balances:
            stored_value_open_balance(
                actor=actor,
                member=people[member_id],
                paid=amount,
                idempotency_key=f"{prefix}:{number}:stored_value",
                reason=_("Migrated from the old system"),
                branch=job.branch,
            )
        return enrolled

    def _referrals(self, *, actor, params: dict, job) -> None:
        """The file's 推荐人, resolved among the people now written (the file's and those
        registered before): one person with that phone, or the card's holder. The guards of
        ``referral_set`` hold (not oneself, not the same phone, not family, one referrer per
        person); rows that fail them import without a referrer."""
        member = Member._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM import_loyalty WHERE referrer_phone IS NOT NULL OR referrer_card IS NOT NULL)"
            )
            if not cursor.fetchone()[0]:
                return
            cursor.execute(
                f"""WITH r AS (
                        SELECT l.row_no, l.member_id, l.phone, COALESCE(
                            (SELECT CASE WHEN count(*) = 1 THEN min(m.id) END FROM {member} AS m
                             WHERE l.referrer_phone IS NOT NULL AND m.phone = l.referrer_phone
                               AND m.status = %(active)s AND m.merged_into_id IS NULL),
                            (SELECT m.id FROM {member} AS m WHERE l.referrer_card IS NOT NULL
                               AND m.card_no = l.referrer_card AND m.status = %(active)s),
                            (SELECT ms.member_id FROM {Membership._meta.db_table} AS ms
                             WHERE l.referrer_card IS NOT NULL AND ms.card_no = l.referrer_card)
                        ) AS referrer_id
                        FROM import_loyalty AS l
                        WHERE l.referrer_phone IS NOT NULL OR l.referrer_card IS NOT NULL
                    )
                    INSERT INTO {Referral._meta.db_table} (referee_id, referrer_id, status, created_at,
                                                           created_by_id, source_key)
                    SELECT r.member_id, r.referrer_id, %(status)s, %(now)s, %(actor)s, ''
                    FROM r JOIN {member} AS p ON p.id = r.referrer_id
                    WHERE r.referrer_id <> r.member_id AND (r.phone = '' OR p.phone <> r.phone)
                      AND NOT EXISTS (SELECT 1 FROM {FamilyLink._meta.db_table} AS f
                                      WHERE (f.member_id = r.member_id AND f.relative_id = r.referrer_id)
                                         OR (f.member_id = r.referrer_id AND f.relative_id = r.member_id))
                      AND NOT EXISTS (SELECT 1 FROM {Referral._meta.db_table} AS x WHERE x.referee_id = r.member_id)
                    ORDER BY r.row_no
                    ON CONFLICT (referee_id) DO NOTHING""",
                {**params, "active": MemberStatus.ACTIVE, "status": ReferralStatus.MIGRATED},
            )
            recorded = cursor.rowcount
        if recorded:
            audit_record(
                actor=actor,
                action="loyalty.referral.imported",
                target=job,
                changes={"referrals": recorded},
            )


def register() -> None:
    register_import_columns(
        ImportColumns(
            key="loyalty", headers=HEADERS, labels=LABELS, handler=LoyaltyImport, field_labels=FIELD_LABELS
        )
    )
