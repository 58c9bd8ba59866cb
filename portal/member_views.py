"""Points, coupons, rewards and referrals: the member's own, through the loyalty services."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.errors import DomainError

from .auth import member_required
from .selectors import get_for_member

PAGE_SIZE = 30


@member_required
@require_GET
def points(request):
    """The points ledger, newest first, with what expires when."""
    from loyalty.models import PointsAccount
    from loyalty.reasons import reason_label
    from loyalty.selectors import open_lots, points_history, source_label

    member = request.portal.member
    account = PointsAccount.objects.filter(member=member, is_open=True).first()
    page = Paginator(points_history(member), PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page:
        entry.reason_text = reason_label(entry.reason) or source_label(entry.source_key)
    lots = list(open_lots(account)[:10]) if account else []
    context = {"account": account, "page": page, "lots": lots, "nav": "points"}
    return render(request, "portal/points.html", context)


def _member_coupons(member):
    from loyalty.coupon_models import Coupon

    return Coupon.objects.filter(member=member).select_related("template", "template__free_item")


def _family_coupons():
    """Coupons, to be narrowed by ``get_for_member`` to the people the session reaches."""
    from loyalty.coupon_models import Coupon

    return Coupon.objects.select_related("template", "template__free_item", "member")


def coupon_state(coupon, today) -> str:
    if coupon.voided_at:
        return "void"
    if coupon.used_at:
        return "used"
    if coupon.valid_until and coupon.valid_until < today:
        return "expired"
    if coupon.valid_from and coupon.valid_from > today:
        return "later"
    return "usable"


@member_required
@require_GET
def coupons(request):
    from loyalty.coupons import code_format

    today = timezone.localdate()
    rows = list(_member_coupons(request.portal.member).order_by("-issued_at", "-id")[:200])
    usable, other = [], []
    for row in rows:
        row.state = coupon_state(row, today)
        row.shown = code_format(row.code)
        (usable if row.state in ("usable", "later") else other).append(row)
    usable.sort(key=lambda c: (c.valid_until is None, c.valid_until or today))
    return render(request, "portal/coupons.html", {"usable": usable, "other": other, "nav": "coupons"})


@member_required
@require_GET
def coupon_detail(request, pk: int):
    """One coupon, big, with its QR to show at the desk (the desk scans the code)."""
    from loyalty.coupons import code_format

    # Any coupon of the family the phone reaches (a parent shows the child's at the desk).
    coupon = get_for_member(_family_coupons(), request.portal, pk)
    coupon.state = coupon_state(coupon, timezone.localdate())
    coupon.shown = code_format(coupon.code)
    return render(request, "portal/coupon_detail.html", {"coupon": coupon, "nav": "coupons"})


@member_required
@require_GET
def coupon_qr(request, pk: int):
    from loyalty.qr import svg_response

    coupon = get_for_member(_family_coupons(), request.portal, pk)
    return svg_response(coupon.code, title=_("Coupon %(code)s") % {"code": coupon.code})


# --- rewards ----------------------------------------------------------------------------------


def _catalogue(member):
    from loyalty.coupon_models import RewardItem, RewardKind
    from loyalty.rewards import reward_refusals
    from loyalty.selectors import open_balance

    items = list(
        RewardItem.objects.filter(is_active=True)
        .select_related("service_item", "coupon_template")
        .prefetch_related("tiers")
        .order_by("points_cost", "id")
    )
    balance = open_balance(member)
    refusals = reward_refusals(member, items, balance=balance) if items else {}
    for item in items:
        item.refusal = refusals.get(item.pk, "")
        # A gift is handed over at the desk; coupons and services arrive in the member's account.
        item.online = item.kind in (RewardKind.COUPON, RewardKind.SERVICE)
    return items, balance


@member_required
@require_GET
def rewards(request):
    from loyalty.coupon_models import RewardRedemption

    member = request.portal.member
    items, balance = _catalogue(member)
    mine = list(
        RewardRedemption.objects.filter(member=member).select_related("item").order_by("-created_at")[:20]
    )
    context = {"items": items, "balance": balance, "mine": mine, "nav": "points"}
    return render(request, "portal/rewards.html", context)


@member_required
@require_POST
def reward_redeem(request, pk: int):
    """Redeem one coupon or service reward with the member's own points (the same service,
    stock and per-member rules as at the desk). Gifts are redeemed at the desk."""
    from loyalty.coupon_models import RewardItem, RewardKind
    from loyalty.rewards import reward_redeem as redeem

    item = RewardItem.objects.filter(pk=pk, is_active=True).first()
    if item is None:
        raise Http404
    if item.kind not in (RewardKind.COUPON, RewardKind.SERVICE):
        messages.error(request, _("Gifts are redeemed at the front desk."))
        return redirect("portal:rewards")
    try:
        redeem(actor=request.portal.actor, member=request.portal.member, item=item)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Redeemed: %(item)s.") % {"item": item.name})
    return redirect("portal:rewards")


# --- referral ---------------------------------------------------------------------------------


@member_required
@require_GET
def referral(request):
    """My referral code and QR (it opens the public share page), the friends I referred
    and where they stand, and what I earned."""
    from loyalty.coupon_models import ReferralStatus
    from loyalty.models import PointsEntry
    from loyalty.qr import referral_link
    from loyalty.referrals import referral_code_for, referral_summary

    member = request.portal.member
    code = referral_code_for(member)
    summary = referral_summary(member)
    # Net of reversals (a referred friend's visit voided takes the reward back).
    keys = [f"referral:{row.pk}" for row in summary["referred"]]
    earned = sum(
        PointsEntry.objects.filter(account__member=member, source_key__in=keys).values_list(
            "points", flat=True
        )
    )
    for row in summary["referred"]:
        # Friends' names masked: the member sees that they came, not their record.
        row.friend = (row.referee.name[:1] + "**") if row.referee.name else "—"
        row.done = row.status == ReferralStatus.REWARDED
    context = {
        "code": code,
        "link": referral_link(request, code),
        "summary": summary,
        "earned": earned,
        "nav": "me",
    }
    return render(request, "portal/referral.html", context)


@member_required
@require_GET
def referral_qr(request):
    from loyalty.qr import referral_link, svg_response
    from loyalty.referrals import referral_code_for

    code = referral_code_for(request.portal.member)
    return svg_response(referral_link(request, code), title=_("Referral code %(code)s") % {"code": code})
