"""Referrals (推荐有礼): a code per member, a referrer recorded at registration, and a
reward for both once the referred person has completed a first paid visit as a member.

Invariants:

- one referrer per person (unique ``referee``), never themselves (CHECK), never someone
  with the same phone or a family link (``referral_set``);
- the reward is given at most once: the referral row is locked and moves PENDING →
  REWARDED (or CAPPED) once, and the points carry idempotency keys
  ``referral:<id>:referrer`` / ``referral:<id>:referee``;
- a monthly cap per referrer (``LOYALTY_REFERRAL_MONTHLY_CAP``, default 10) counts the
  referrals rewarded this calendar month, under the referrer's row lock;
- voiding the visit that triggered the reward reverses it (points and unused coupons)
  and the referral waits for the next paid visit again.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.phones import mask_phone
from clinic.services import audit_record
from members.models import FamilyLink, Member, MemberStatus

from .coupon_models import Coupon, Referral, ReferralCode, ReferralStatus
from .coupons import ALPHABET, auto_template, check_char, code_new, coupon_issue_auto
from .errors import LoyaltyError
from .models import BonusKind, Membership, PointsEntry, Purchase
from .notify import notify_member
from .reasons import PointsReason
from .services import points_bonus_award, points_reverse

SET_PERMISSION = "loyalty.set_referrer"


def monthly_cap() -> int:
    return int(getattr(settings, "LOYALTY_REFERRAL_MONTHLY_CAP", 10))


REFERRAL_CODE_LENGTH = 7


def referral_code_for(member: Member) -> str:
    """The member's referral code, created on first use (7 characters, check included)."""
    row = ReferralCode.objects.filter(member=member).first()
    if row is not None:
        return row.code
    for _attempt in range(10):
        body = code_new()[:6]
        code = body + check_char(body)
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(member=member, code=code).code
        except IntegrityError:
            row = ReferralCode.objects.filter(member=member).first()
            if row is not None:
                return row.code
    raise RuntimeError("could not allocate a referral code")


def find_referrer(query: str) -> Member | None:
    """A referrer by referral code, phone number or card number; None when there is no
    single one (see ``referrer_resolve`` for the reason)."""
    try:
        return referrer_resolve(query)
    except LoyaltyError:
        return None


def _code_in(text: str) -> str:
    """A referral code typed, pasted or scanned: a bare code, or the registration link a
    referral QR encodes (``…/members/new/?ref=<code>``)."""
    text = (text or "").strip()
    if "ref=" in text:
        values = parse_qs(urlsplit(text).query or text.split("?", 1)[-1]).get("ref")
        if values:
            text = values[0]
    return "".join(text.split()).replace("-", "").upper()


def _is_code(text: str) -> bool:
    return (
        len(text) == REFERRAL_CODE_LENGTH
        and all(ch in ALPHABET for ch in text)
        and check_char(text[:-1]) == text[-1]
    )


def _describe(members: list[Member]) -> str:
    return _(", ").join(
        _("%(name)s (%(branch)s, %(phone)s)")
        % {"name": m.name, "branch": m.branch, "phone": mask_phone(m.phone) or "—"}
        for m in members[:5]
    )


def referrer_resolve(query: str, *, user=None) -> Member:
    """The one person ``query`` names as a referrer: a referral code (or the link of a
    referral QR), a phone number, a card number (chain-wide: whoever shows them knows them),
    or a name (only among the people of ``user``'s branches). Active records only. Raises
    ``LoyaltyError`` on the ``referrer`` field when nobody or several people match, saying
    what to type instead. Reads only."""
    from members.selectors import scope_members

    def refuse(code: str, message: str):
        raise LoyaltyError(message, code=code, field="referrer")

    raw = " ".join((query or "").split())
    text = _code_in(raw)
    if not text:
        raise LoyaltyError(_("Enter the referrer's code, phone number or name."), field="referrer")
    active = Member.objects.filter(status=MemberStatus.ACTIVE).select_related("branch")
    if _is_code(text):
        row = ReferralCode.objects.filter(code=text, member__status=MemberStatus.ACTIVE).first()
        if row is None:
            raise LoyaltyError(
                _("No member has the referral code %(code)s.") % {"code": text},
                code="unknown",
                field="referrer",
            )
        return active.get(pk=row.member_id)
    if len(text) == REFERRAL_CODE_LENGTH and all(ch in ALPHABET for ch in text) and not text.isdigit():
        raise LoyaltyError(
            _("The referral code %(code)s is not valid; check it for a typo.") % {"code": text},
            code="typo",
            field="referrer",
        )
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 11 and len(digits) >= len(text) - 3:  # a phone number (+86, spaces…)
        found = list(active.filter(phone_digits__endswith=digits[-11:]).order_by("pk")[:6])
        phone = mask_phone(digits[-11:])
        if not found:
            refuse(
                "unknown",
                _("Nobody has the phone number %(phone)s. Check it, or enter the referrer's referral code.")
                % {"phone": phone},
            )
        if len(found) > 1:
            refuse(
                "ambiguous",
                _(
                    "Several people share the phone number %(phone)s: %(people)s. Enter the referrer's referral code instead."
                )
                % {"phone": phone, "people": _describe(found)},
            )
        return found[0]
    card = active.filter(card_no=text).first()
    if card is not None:
        return card
    scoped = active if user is None else scope_members(active, user)
    found = list(scoped.filter(name=raw).order_by("pk")[:6])
    if not found:
        refuse(
            "unknown",
            _(
                "Nobody named %(name)s was found at your branches. Enter the referrer's referral code or phone number."
            )
            % {"name": raw},
        )
    if len(found) > 1:
        refuse(
            "ambiguous",
            _(
                "Several people are named %(name)s: %(people)s. Enter the referrer's referral code or phone number instead."
            )
            % {"name": raw, "people": _describe(found)},
        )
    return found[0]


# --- the referrer field of the registration form (members.registry) -------------------------


def _registration_field():
    from django.utils.translation import gettext_lazy

    from clinic.fields import ShortTextField

    return ShortTextField(
        label=gettext_lazy("Referrer"),
        required=False,
        max_length=200,
        help_text=gettext_lazy(
            "Optional: the referrer's referral code (or scan their referral QR), phone number or name."
        ),
    )


def _registration_resolve(value: str, user) -> Member:
    return referrer_resolve(value, user=user)


def _registration_save(*, actor, member: Member, value: Member) -> None:
    referral_set(actor=actor, referee=member, referrer=value)


def register_registration_field() -> None:
    """Registration can name a referrer; the referral is recorded in the same transaction
    as the person (a refusal — same phone, no permission — registers nobody)."""
    from members.registry import RegistrationField, register_registration_field

    register_registration_field(
        RegistrationField(
            name="referrer",
            field=_registration_field,
            resolve=_registration_resolve,
            save=_registration_save,
            permission=SET_PERMISSION,
            query_param="ref",
            order=10,
        )
    )


@transaction.atomic
def referral_set(*, actor, referee: Member, referrer: Member) -> Referral:
    """Record who referred ``referee``. Refused for oneself, the same phone, a family link,
    or when a referrer is already recorded. Audited."""
    if actor is not None and not actor.has_perm(SET_PERMISSION):
        raise LoyaltyError(_("Your role may not record referrals."), code="forbidden")
    if referee.pk == referrer.pk:
        raise LoyaltyError(_("A person cannot refer themselves."), code="self", field="referrer")
    if referee.phone_digits and referee.phone_digits == referrer.phone_digits:
        raise LoyaltyError(_("The referrer has the same phone number."), code="same_phone", field="referrer")
    if FamilyLink.objects.filter(
        Q(member=referee, relative=referrer) | Q(member=referrer, relative=referee)
    ).exists():
        raise LoyaltyError(_("Family members cannot refer each other."), code="family", field="referrer")
    if Referral.objects.filter(referee=referee).exists():
        raise LoyaltyError(_("This person already has a referrer."), code="exists", field="referrer")
    referral = Referral.objects.create(
        referee=referee, referrer=referrer, created_by=actor if getattr(actor, "pk", None) else None
    )
    audit_record(
        actor=actor,
        action="loyalty.referral.recorded",
        target=referee,
        changes={"referrer": referrer.pk},
    )
    return referral


def _paid_visits(member: Member) -> int:
    return Purchase.objects.filter(member=member, reversed_at__isnull=True, amount__gt=0).count()


@transaction.atomic
def referral_reward_check(*, actor, member: Member, source_key: str) -> Referral | None:
    """Called after a purchase is recorded (checkout): if ``member`` was referred, is
    enrolled and this is their first paid visit, reward both sides once (points from the
    referral bonus rule, and the ``LOYALTY_AUTO_COUPONS["referral"]`` coupon), with a
    message to each. A referrer over the monthly cap is marked CAPPED instead."""
    referral = Referral.objects.select_for_update().filter(referee=member).first()
    if referral is None or referral.status not in (ReferralStatus.PENDING, ReferralStatus.REVERSED):
        return referral
    if not Membership.objects.filter(member=member).exists() or _paid_visits(member) != 1:
        return referral
    referrer = Member.objects.select_for_update().get(pk=referral.referrer_id)
    now = timezone.now()
    start = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rewarded = Referral.objects.filter(
        referrer=referrer, status=ReferralStatus.REWARDED, rewarded_at__gte=start
    ).count()
    referral.source_key, referral.reversed_at = source_key, None
    if rewarded >= monthly_cap():
        referral.status = ReferralStatus.CAPPED
        referral.save(update_fields=["status", "source_key", "reversed_at"])
        audit_record(
            actor=actor, action="loyalty.referral.capped", target=member, changes={"referral": referral.pk}
        )
        return referral
    # A reward reversed by a void is given again under fresh keys.
    round_ = PointsEntry.objects.filter(idempotency_key__startswith=f"referral:{referral.pk}:").count()
    suffix = f":{round_}" if round_ else ""
    template = auto_template("referral")
    for side, person in (("referrer", referrer), ("referee", member)):
        points_bonus_award(
            actor=actor,
            member=person,
            kind=BonusKind.REFERRAL,
            idempotency_key=f"referral:{referral.pk}:{side}{suffix}",
            source_key=f"referral:{referral.pk}",
        )
        if template is not None:
            coupon_issue_auto(
                actor=actor,
                member=person,
                trigger="referral",
                key=f"{referral.pk}:{side}{suffix}",
                template=template,
            )
        notify_member(
            member=person,
            template_key="loyalty.referral_rewarded" if side == "referrer" else "loyalty.referral_welcome",
            params={"name": person.name, "friend": (member if side == "referrer" else referrer).name},
            dedupe_key=f"loyalty:referral:{referral.pk}:{side}{suffix}",
            actor=actor,
        )
    referral.status, referral.rewarded_at = ReferralStatus.REWARDED, now
    referral.save(update_fields=["status", "rewarded_at", "source_key", "reversed_at"])
    audit_record(
        actor=actor,
        action="loyalty.referral.rewarded",
        target=member,
        changes={"referral": referral.pk, "referrer": referrer.pk, "source": source_key},
    )
    return referral


def referral_reward_on_enrol(*, actor, member: Member) -> Referral | None:
    """Enrolment after the first paid visit: reward the referral on that visit."""
    first = (
        Purchase.objects.filter(member=member, reversed_at__isnull=True, amount__gt=0)
        .values_list("source_key", flat=True)
        .first()
    )
    if first is None or not Referral.objects.filter(referee=member).exists():
        return None
    return referral_reward_check(actor=actor, member=member, source_key=first)


@transaction.atomic
def referral_reverse(*, actor, source_key: str) -> Referral | None:
    """The visit that earned a referral reward was voided: take back both sides' points
    and cancel their unused reward coupons; the referral waits for a paid visit again.
    Idempotent."""
    referral = Referral.objects.select_for_update().filter(source_key=source_key).first()
    if referral is None or referral.status not in (ReferralStatus.REWARDED, ReferralStatus.CAPPED):
        return referral
    if referral.status == ReferralStatus.REWARDED:
        keys = PointsEntry.objects.filter(
            idempotency_key__startswith=f"referral:{referral.pk}:", points__gt=0
        ).values_list("idempotency_key", flat=True)
        for key in list(keys):
            points_reverse(actor=actor, earn_key=key, reason=PointsReason.REFERRAL_REVERSED)
        Coupon.objects.filter(
            issue_key__startswith=f"referral:{referral.pk}:", used_at__isnull=True, voided_at__isnull=True
        ).update(voided_at=timezone.now())
    referral.status, referral.reversed_at = ReferralStatus.REVERSED, timezone.now()
    referral.rewarded_at, referral.source_key = None, ""
    referral.save(update_fields=["status", "reversed_at", "rewarded_at", "source_key"])
    audit_record(
        actor=actor,
        action="loyalty.referral.reversed",
        target=referral.referee,
        changes={"referral": referral.pk},
    )
    return referral


def referral_summary(member: Member) -> dict:
    """For the profile: who referred this person, and everyone they referred."""
    by = Referral.objects.select_related("referrer").filter(referee=member).first()
    referred = list(
        Referral.objects.select_related("referee").filter(referrer=member).order_by("-created_at")
    )
    return {
        "referred_by": by,
        "referred": referred,
        "rewarded": sum(r.status == ReferralStatus.REWARDED for r in referred),
    }


def referral_leaderboard(*, branch_ids=None, since=None, until=None, limit: int = 20) -> list[dict]:
    """Referrers ranked by rewarded referrals in a period, optionally per branch."""
    qs = Referral.objects.filter(status=ReferralStatus.REWARDED)
    if branch_ids is not None:
        qs = qs.filter(referrer__branch_id__in=list(branch_ids))
    if since is not None:
        qs = qs.filter(rewarded_at__gte=since)
    if until is not None:
        qs = qs.filter(rewarded_at__lt=until)
    return list(
        qs.values("referrer_id", "referrer__name", "referrer__branch__name")
        .annotate(count=Count("id"))
        .order_by("-count", "referrer__name")[:limit]
    )
