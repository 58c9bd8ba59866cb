"""Coupons: codes, issue (one member or a printed batch), validation, use and restore.

Invariants:

- a code is 9 random characters of an unambiguous alphabet (no 0/O, 1/I/L) plus one check
  character (weighted sum mod 31, a prime, so every single-character typo and every swap of
  neighbours is caught) — ``code_normalise`` refuses a typo before any query;
- a coupon is used at most once: ``coupon_redeem`` is a conditional UPDATE on
  ``used_at IS NULL`` and acts only when exactly one row changed, so of two concurrent
  checkouts one wins and the other gets "already used";
- each use and restore is an append-only ``CouponEvent`` row and an audit row.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Role
from clinic.money import ZERO, format_cny, to_money
from clinic.selectors import user_branch_ids
from clinic.services import audit_record
from members.models import Member

from .coupon_models import Coupon, CouponBatch, CouponEvent, CouponKind, CouponTemplate
from .errors import LoyaltyError

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols: no 0/O, 1/I/L
BODY_LENGTH = 9
ISSUE_PERMISSION = "loyalty.issue_coupon"
BATCH_PERMISSION = "loyalty.add_couponbatch"
MAX_BATCH = 20_000

User = get_user_model()


class CouponError(LoyaltyError):
    """Why a coupon cannot be used; ``code`` names the reason for tests and callers."""


# --- codes ---------------------------------------------------------------------------------


def check_char(body: str) -> str:
    total = sum((i + 1) * ALPHABET.index(ch) for i, ch in enumerate(body))
    return ALPHABET[total % len(ALPHABET)]


def code_new() -> str:
    body = "".join(secrets.choice(ALPHABET) for _i in range(BODY_LENGTH))
    return body + check_char(body)


def code_format(code: str) -> str:
    """``ABCD-EFGH-JK`` for print; input accepts either form."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def code_normalise(raw: str) -> str:
    """Upper-case, drop spaces and dashes, and check the alphabet and the check character.
    Raises ``CouponError`` (code ``typo``) without touching the database."""
    code = "".join((raw or "").split()).replace("-", "").upper()
    if (
        len(code) != BODY_LENGTH + 1
        or any(ch not in ALPHABET for ch in code)
        or check_char(code[:-1]) != code[-1]
    ):
        raise CouponError(
            _("The coupon code %(code)s is not valid; check it for a typo.") % {"code": raw},
            code="typo",
            field="coupons",
        )
    return code


# --- the cart ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartLine:
    item_id: int
    category_id: int
    unit_price: Decimal
    quantity: int = 1
    tier_percent: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        """After the tier discount (which pricing applies before coupons)."""
        gross = to_money(self.unit_price * self.quantity)
        return gross - to_money(gross * self.tier_percent / 100)


@dataclass
class Cart:
    lines: list[CartLine]
    other_codes: list[str] = field(default_factory=list)  # other coupons in the same checkout

    @property
    def has_tier_discount(self) -> bool:
        return any(line.tier_percent > 0 for line in self.lines)


@dataclass(frozen=True)
class CouponOffer:
    """What a valid coupon takes off this cart: ``amount`` spread over the eligible lines
    only — the lines of ``item_ids`` (and ``category_ids``) — never over other lines of the
    same category (pricing's ``CouponQuote``).

    ``with_tier`` False: the coupon may not be combined with the tier discount. ``amount``
    is then worked out on the eligible lines *without* the tier discount, and pricing applies
    whichever is better for the member on those lines: the coupon instead of the tier
    discount, or the tier discount and the coupon stays unused (``appointments.pricing``)."""

    coupon: Coupon
    ref: str
    label: str
    amount: Decimal
    category_ids: frozenset[int]
    item_ids: frozenset[int] = frozenset()
    with_tier: bool = True


def _eligible(template: CouponTemplate, lines: Sequence[CartLine]) -> list[CartLine]:
    if template.kind == CouponKind.FREE_ITEM:
        return [line for line in lines if line.item_id == template.free_item_id]
    item_ids = {i.pk for i in template.items.all()}
    category_ids = {c.pk for c in template.categories.all()}
    if not item_ids and not category_ids:
        return list(lines)
    return [line for line in lines if line.item_id in item_ids or line.category_id in category_ids]


def coupon_amount(template: CouponTemplate, lines: Sequence[CartLine]) -> Decimal:
    """The discount on the eligible lines: a fixed amount, a percentage (rounded half-up to
    the cent, then capped) or one unit of the free item; never above what they cost."""
    base = sum((line.net for line in lines), ZERO)
    if template.kind == CouponKind.AMOUNT:
        amount = to_money(template.amount_off)
    elif template.kind == CouponKind.PERCENT:
        amount = to_money(base * template.percent_off / 100)
        if template.cap is not None:
            amount = min(amount, to_money(template.cap))
    else:
        line = lines[0] if lines else None
        amount = line.net / line.quantity if line else ZERO
    return min(to_money(amount), base)


# --- validation ----------------------------------------------------------------------------


def _find(code_or_id) -> Coupon:
    qs = Coupon.objects.select_related("template").prefetch_related("template__items", "template__categories")
    if isinstance(code_or_id, Coupon):
        code_or_id = code_or_id.pk
    if isinstance(code_or_id, int):
        coupon = qs.filter(pk=code_or_id).first()
    else:
        coupon = qs.filter(code=code_normalise(code_or_id)).first()
    if coupon is None:
        raise CouponError(
            _("No coupon has the code %(code)s.") % {"code": code_or_id}, code="unknown", field="coupons"
        )
    return coupon


def _today() -> dt.date:
    return timezone.localdate()


def coupon_validate(code_or_id, *, member: Member, cart: Cart) -> CouponOffer:
    """The offer of one coupon on this cart, or ``CouponError`` with the exact reason in
    Chinese: typo, unknown, cancelled, already used, someone else's, not yet valid, expired,
    not for these items, minimum spend, per-member limit, not stackable. A coupon that may
    not be combined with the tier discount is not refused: its offer is priced without the
    tier discount (minimum spend too) and pricing chooses the better of the two. Reads
    only."""
    coupon = _find(code_or_id)
    tpl = coupon.template
    shown = code_format(coupon.code)

    def refuse(code: str, message: str):
        raise CouponError(message, code=code, field="coupons")

    if coupon.voided_at is not None or not tpl.is_active:
        refuse("void", _("Coupon %(code)s has been cancelled.") % {"code": shown})
    if coupon.used_at is not None:
        refuse(
            "used",
            _("Coupon %(code)s was already used on %(day)s.")
            % {"code": shown, "day": timezone.localdate(coupon.used_at).isoformat()},
        )
    if coupon.member_id is not None and coupon.member_id != member.pk:
        refuse("not_yours", _("Coupon %(code)s belongs to another person.") % {"code": shown})
    today = _today()
    if coupon.valid_from and today < coupon.valid_from:
        refuse(
            "not_yet_valid",
            _("Coupon %(code)s can be used from %(day)s.") % {"code": shown, "day": coupon.valid_from},
        )
    if coupon.valid_until and today > coupon.valid_until:
        refuse(
            "expired",
            _("Coupon %(code)s expired on %(day)s.") % {"code": shown, "day": coupon.valid_until},
        )
    eligible = _eligible(tpl, cart.lines)
    if not eligible:
        refuse("not_eligible", _("Coupon %(code)s is not for these services.") % {"code": shown})
    if not tpl.with_tier_discount:
        # Used instead of the tier discount on its lines: spend and amount at list price.
        eligible = [replace(line, tier_percent=ZERO) for line in eligible]
    base = sum((line.net for line in eligible), ZERO)
    if base < tpl.min_spend:
        refuse(
            "min_spend",
            _("Coupon %(code)s needs a spend of at least %(min)s on eligible services (now %(now)s).")
            % {"code": shown, "min": format_cny(tpl.min_spend), "now": format_cny(base)},
        )
    if tpl.per_member_limit:
        used = Coupon.objects.filter(
            template=tpl, member=member, used_at__isnull=False, voided_at__isnull=True
        ).count()
        if used >= tpl.per_member_limit:
            refuse(
                "limit",
                _("This person has already used %(count)s coupon(s) of “%(name)s”, the limit.")
                % {"count": used, "name": tpl.name},
            )
    others = [c for c in cart.other_codes if c and c != coupon.code]
    if others:
        if not tpl.stackable:
            refuse(
                "not_stackable",
                _("Coupon %(code)s cannot be used together with other coupons.") % {"code": shown},
            )
        other_tpls = CouponTemplate.objects.filter(coupons__code__in=others, stackable=False)
        if other_tpls.exists():
            refuse(
                "not_stackable",
                _("Another coupon in this checkout cannot be combined with coupon %(code)s.")
                % {"code": shown},
            )
    amount = coupon_amount(tpl, eligible)
    return CouponOffer(
        coupon=coupon,
        ref=f"coupon:{coupon.code}",
        label=_("Coupon %(name)s (%(code)s)") % {"name": tpl.name, "code": shown},
        amount=amount,
        category_ids=frozenset(line.category_id for line in eligible),
        item_ids=frozenset(line.item_id for line in eligible),
        with_tier=tpl.with_tier_discount,
    )


def coupons_validate(codes: Iterable[str], *, member: Member, lines: list[CartLine]) -> list[CouponOffer]:
    """Several codes in one checkout: normalised (typos refused first), duplicates refused,
    then each validated knowing the others (stacking)."""
    normal = [code_normalise(c) for c in codes if c]
    if len(set(normal)) != len(normal):
        raise CouponError(_("The same coupon was entered twice."), code="duplicate", field="coupons")
    cart = Cart(lines=lines, other_codes=normal)
    return [coupon_validate(code, member=member, cart=cart) for code in normal]


# --- issue ---------------------------------------------------------------------------------


def _validity(tpl: CouponTemplate, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    if tpl.valid_days:
        return day, day + dt.timedelta(days=tpl.valid_days - 1)
    return tpl.valid_from, tpl.valid_until


def _new_code() -> str:
    while True:
        code = code_new()
        if not Coupon.objects.filter(code=code).exists():
            return code


@transaction.atomic
def coupon_issue(
    *,
    actor,
    template: CouponTemplate,
    member: Member,
    reason: str = "",
    issue_key: str | None = None,
    system: bool = False,
) -> Coupon:
    """Give one coupon to a member. Staff need ``loyalty.issue_coupon``; ``system`` issues
    (referral, reward, welcome) pass ``issue_key`` and are idempotent on it. The per-member
    limit counts coupons of the template the person holds. Audited."""
    if not system and (actor is None or not actor.has_perm(ISSUE_PERMISSION)):
        raise LoyaltyError(_("Your role may not issue coupons."), code="forbidden")
    if issue_key:
        existing = Coupon.objects.filter(issue_key=issue_key).first()
        if existing is not None:
            return existing
    if not template.is_active:
        raise LoyaltyError(_("This coupon template is not active."), field="template")
    # Lock the member row: two concurrent issues would both pass the limit check otherwise.
    Member.objects.select_for_update().filter(pk=member.pk).first()
    if template.per_member_limit:
        held = Coupon.objects.filter(template=template, member=member, voided_at__isnull=True).count()
        if held >= template.per_member_limit:
            raise LoyaltyError(
                _("This person already holds %(count)s coupon(s) of “%(name)s”, the limit.")
                % {"count": held, "name": template.name},
                field="template",
            )
    start, end = _validity(template, _today())
    coupon = Coupon.objects.create(
        code=_new_code(),
        template=template,
        member=member,
        issued_by=actor if getattr(actor, "pk", None) else None,
        reason=(reason or "")[:200],
        issue_key=issue_key or None,
        valid_from=start,
        valid_until=end,
    )
    audit_record(
        actor=actor,
        action="loyalty.coupon.issued",
        target=member,
        changes={"coupon": coupon.code, "template": template.name, "reason": reason},
    )
    return coupon


def auto_template(trigger: str, qualifier: str | None = None) -> CouponTemplate | None:
    """The active template ``LOYALTY_AUTO_COUPONS[trigger]`` names. The value is a template
    name, or a mapping ``{qualifier: name}`` (``allowance`` is keyed by tier code, so each
    tier can grant its own coupon or none)."""
    from django.conf import settings

    name = (getattr(settings, "LOYALTY_AUTO_COUPONS", {}) or {}).get(trigger)
    if isinstance(name, dict):
        name = name.get(qualifier) if qualifier else None
    return CouponTemplate.objects.filter(name=name, is_active=True).first() if name else None


def coupon_issue_auto(
    *,
    actor,
    member: Member,
    trigger: str,
    key: str,
    qualifier: str | None = None,
    template: CouponTemplate | None = None,
) -> Coupon | None:
    """Automatic issue (``welcome``, ``birthday``, ``allowance``, ``review``): the template
    ``auto_template(trigger, qualifier)`` names, once per ``key`` (issue key
    ``<trigger>:<key>``); None when none is configured or the member holds the limit. The
    reason stored is the trigger (the coupons page shows it in words). The one mechanism
    for every automatic coupon (``loyalty.auto_coupons`` has the callers). A job issuing
    many passes the ``template`` it looked up once."""
    template = template or auto_template(trigger, qualifier)
    if template is None:
        return None
    try:
        return coupon_issue(
            actor=actor,
            template=template,
            member=member,
            reason=trigger,
            issue_key=f"{trigger}:{key}",
            system=True,
        )
    except LoyaltyError:  # over the per-member limit: an automatic issue is skipped, never an error
        return None


def coupon_batch_marketers(branch) -> QuerySet:
    """The logins a batch of ``branch`` may be handed to: its active marketing staff."""
    return User.objects.filter(is_active=True, staff__role=Role.MARKETING, staff__branches=branch).order_by(
        "staff__full_name"
    )


def coupon_batch_check(*, actor, count: int, branch, marketer=None, channel: str = "") -> None:
    """Raise ``LoyaltyError`` unless ``actor`` may print ``count`` codes for ``branch``:
    the permission, a branch the actor works at, and a marketer who is marketing staff of
    that branch (or a channel). Forms call it to show the reason next to the field."""
    if actor is None or not actor.has_perm(BATCH_PERMISSION):
        raise LoyaltyError(_("Your role may not create coupon batches."), code="forbidden")
    if not 1 <= count <= MAX_BATCH:
        raise LoyaltyError(
            _("A batch holds between 1 and %(max)s codes.") % {"max": MAX_BATCH}, field="count"
        )
    ids = user_branch_ids(actor)
    if branch is None or (ids is not None and branch.pk not in ids):
        raise LoyaltyError(_("You can print batches only for a branch you work at."), field="branch")
    if marketer is None and not (channel or "").strip():
        raise LoyaltyError(_("Name the marketer or the channel of the batch."), field="marketer")
    if marketer is not None and not coupon_batch_marketers(branch).filter(pk=marketer.pk).exists():
        raise LoyaltyError(
            _("%(name)s is not a marketing staff member of %(branch)s.")
            % {"name": marketer.get_full_name() or marketer.get_username(), "branch": branch},
            field="marketer",
        )


@transaction.atomic
def coupon_batch_create(
    *,
    actor,
    template: CouponTemplate,
    count: int,
    name: str,
    branch,
    marketer=None,
    channel: str = "",
) -> CouponBatch:
    """Print a number range (号段) of ``count`` bearer codes for a marketer or a channel.
    Ranges never overlap: the template row lock serialises batch creation and the next
    range starts after the highest number printed so far. Audited."""
    coupon_batch_check(actor=actor, count=count, branch=branch, marketer=marketer, channel=channel)
    CouponTemplate.objects.select_for_update().filter(pk=template.pk).first()
    last = CouponBatch.objects.aggregate(m=Max("end_no"))["m"] or 0
    batch = CouponBatch.objects.create(
        template=template,
        name=name,
        branch=branch,
        start_no=last + 1,
        end_no=last + count,
        marketer=marketer,
        channel=(channel or "").strip(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    start, end = _validity(template, _today())
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(code_new())
    taken = set(Coupon.objects.filter(code__in=codes).values_list("code", flat=True))
    while taken:  # astronomically rare: replace codes that already exist
        codes -= taken
        fresh = {code_new() for _i in range(len(taken))}
        taken = set(Coupon.objects.filter(code__in=fresh).values_list("code", flat=True)) | (fresh & codes)
        codes |= fresh - taken
    Coupon.objects.bulk_create(
        [
            Coupon(
                code=code,
                template=template,
                batch=batch,
                serial=batch.start_no + i,
                issued_by=batch.created_by,
                valid_from=start,
                valid_until=end,
            )
            for i, code in enumerate(sorted(codes))
        ],
        batch_size=2000,
    )
    audit_record(
        actor=actor,
        action="loyalty.coupon.batch_created",
        target=batch,
        branch=branch,
        changes={"range": [batch.start_no, batch.end_no], "template": template.name, "channel": channel},
    )
    return batch


# --- use and restore ------------------------------------------------------------------------


@transaction.atomic
def coupon_redeem(*, actor, code: str, member: Member, source_key: str) -> Coupon:
    """Mark the coupon used by ``source_key`` (``visit:123``). Exactly once: the UPDATE only
    matches an unused coupon of this member (or an unbound printed code, which binds to
    them); if it changed no row the coupon was taken by someone else in the meantime.
    Idempotent for the same ``source_key``."""
    code = code_normalise(code)
    now = timezone.now()
    changed = (
        Coupon.objects.filter(code=code, used_at__isnull=True, voided_at__isnull=True)
        .filter(Q(member__isnull=True) | Q(member=member))
        .update(used_at=now, used_source=source_key, member=member)
    )
    coupon = Coupon.objects.get(code=code)
    if changed != 1:
        if coupon.used_source == source_key and coupon.member_id == member.pk:
            return coupon
        raise CouponError(
            _("Coupon %(code)s was already used.") % {"code": code_format(code)}, code="used", field="coupons"
        )
    CouponEvent.objects.create(
        coupon=coupon, kind=CouponEvent.USE, source_key=source_key, member=member, actor=_actor(actor)
    )
    audit_record(
        actor=actor,
        action="loyalty.coupon.redeemed",
        target=member,
        changes={"coupon": code, "source": source_key},
    )
    return coupon


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


@transaction.atomic
def coupon_restore(*, actor, source_key: str) -> int:
    """A voided visit gives back every coupon it used (a printed code stays bound to the
    person). Idempotent: returns how many were restored now."""
    restored = 0
    for coupon in Coupon.objects.select_for_update().filter(used_source=source_key, used_at__isnull=False):
        Coupon.objects.filter(pk=coupon.pk).update(used_at=None, used_source="")
        CouponEvent.objects.create(
            coupon=coupon,
            kind=CouponEvent.RESTORE,
            source_key=source_key,
            member_id=coupon.member_id,
            actor=_actor(actor),
        )
        audit_record(
            actor=actor,
            action="loyalty.coupon.restored",
            target=coupon.member,
            changes={"coupon": coupon.code, "source": source_key},
        )
        restored += 1
    return restored


# --- statistics -----------------------------------------------------------------------------


@dataclass
class BatchStats:
    key: str
    label: str
    issued: int = 0
    redeemed: int = 0
    revenue: Decimal = ZERO
    batch: CouponBatch | None = None


def batch_stats(*, batch_ids: Iterable[int] | None = None, group: str = "batch") -> list[BatchStats]:
    """Issued and redeemed codes and the revenue of the (not reversed) visits that used
    them, per batch, marketer or channel."""
    return batch_stats_by(batch_ids=batch_ids, groups=(group,))[group]


def batch_stats_by(
    *, batch_ids: Iterable[int] | None = None, groups: Sequence[str] = ("batch", "marketer", "channel")
) -> dict[str, list[BatchStats]]:
    """``batch_stats`` for several groupings at once: four queries whatever the number of
    batches."""
    from django.db.models import Count

    from .models import Purchase

    batches = CouponBatch.objects.select_related("template", "marketer")
    if batch_ids is not None:
        batches = batches.filter(pk__in=list(batch_ids))
    batches = list(batches)
    counts = {
        row["batch_id"]: row
        for row in Coupon.objects.filter(batch__in=batches)
        .values("batch_id")
        .annotate(issued=Count("id"), redeemed=Count("id", filter=Q(used_at__isnull=False)))
    }
    used = dict(
        Coupon.objects.filter(batch__in=batches, used_at__isnull=False).values_list("used_source", "batch_id")
    )
    revenue: dict[int, Decimal] = {}
    for source, amount in Purchase.objects.filter(
        source_key__in=list(used), reversed_at__isnull=True
    ).values_list("source_key", "amount"):
        revenue[used[source]] = revenue.get(used[source], ZERO) + amount
    result: dict[str, list[BatchStats]] = {}
    for group in groups:
        out: dict[str, BatchStats] = {}
        for b in batches:
            if group == "marketer":
                label = (b.marketer.get_full_name() or b.marketer.get_username()) if b.marketer else "—"
                key = f"m{b.marketer_id}"
            elif group == "channel":
                key, label = f"c{b.channel}", b.channel or "—"
            else:
                key, label = f"b{b.pk}", str(b)
            row = out.setdefault(key, BatchStats(key=key, label=label, batch=b if group == "batch" else None))
            c = counts.get(b.pk, {})
            row.issued += c.get("issued", 0)
            row.redeemed += c.get("redeemed", 0)
            row.revenue += revenue.get(b.pk, ZERO)
        result[group] = list(out.values())
    return result
