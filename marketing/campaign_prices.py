"""Member-day prices (会员日特价, issue 16): a campaign's temporary prices on catalogue items,
written here (audited) and offered to the checkout pricing of ``appointments`` as a
registered rule source: a price holds on the clinic's days the campaign runs, at its branch,
for members (or for everyone, where the price says so)."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.pricing import PriceRule
from clinic.money import format_cny, to_money
from clinic.services import audit_record
from members.models import Stage

from .campaigns import _check_branch
from .errors import MarketingError
from .models import Campaign, CampaignPrice


@transaction.atomic
def campaign_price_set(
    *,
    actor,
    campaign: Campaign,
    item,
    price: Decimal | None = None,
    percent_off: Decimal | None = None,
    with_tier: bool = False,
    members_only: bool = True,
) -> CampaignPrice:
    """Set the campaign's price of ``item`` (a special price, or a percentage off; one of the
    two). Setting it again replaces it. Audited."""
    _check_branch(actor, campaign.branch_id)
    if (price is None) == (percent_off is None):
        raise MarketingError(_("Give either a special price or a percentage off, not both."), field="price")
    if price is not None:
        price = to_money(price)
        if price < 0:
            raise MarketingError(_("The special price cannot be negative."), field="price")
        if price >= to_money(item.price):
            raise MarketingError(
                _("The special price must be below the list price (%(price)s).")
                % {"price": format_cny(to_money(item.price))},
                field="price",
            )
    if percent_off is not None and not (Decimal(0) < percent_off <= Decimal(100)):
        raise MarketingError(
            _("The percentage off must be more than 0 and at most 100."), field="percent_off"
        )
    if campaign.ends_at <= timezone.now():
        raise MarketingError(_("This campaign is over."), field="campaign")
    row = CampaignPrice.objects.select_for_update().filter(campaign=campaign, item=item).first()
    old = None if row is None else {"price": str(row.price), "percent_off": str(row.percent_off)}
    row = row or CampaignPrice(campaign=campaign, item=item)
    row.price, row.percent_off = price, percent_off
    row.with_tier, row.members_only = with_tier, members_only
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:  # the row lock above serialises; a race on a new item lands here
        raise MarketingError(_("This service already has a price in this campaign."), field="item") from exc
    audit_record(
        actor=actor,
        action="marketing.campaign.price_set",
        target=campaign,
        changes={
            "item": item.pk,
            "before": old,
            "price": None if price is None else str(price),
            "percent_off": None if percent_off is None else str(percent_off),
            "with_tier": with_tier,
            "members_only": members_only,
        },
    )
    return row


@transaction.atomic
def campaign_price_remove(*, actor, row: CampaignPrice) -> None:
    _check_branch(actor, row.campaign.branch_id)
    audit_record(
        actor=actor,
        action="marketing.campaign.price_removed",
        target=row.campaign,
        changes={"item": row.item_id, "price": str(row.price), "percent_off": str(row.percent_off)},
    )
    row.delete()


def price_rules_for_visit(visit, item_ids: set[int]) -> list[PriceRule]:
    """The member-day prices that hold for ``visit`` today: campaigns of its branch running
    on the clinic's day, for its items (the checkout pricing's rule source)."""
    if not item_ids:
        return []
    today = timezone.localdate()
    rows = CampaignPrice.objects.filter(
        item_id__in=item_ids,
        campaign__branch_id=visit.branch_id,
        campaign__starts_at__date__lte=today,
        campaign__ends_at__date__gte=today,
    ).select_related("campaign")
    is_member = visit.member.stage == Stage.MEMBER
    return [
        PriceRule(
            ref=f"campaign-price:{row.pk}",
            label=_("Member-day price: %(campaign)s") % {"campaign": row.campaign.name},
            item_id=row.item_id,
            price=row.price,
            percent_off=row.percent_off or Decimal(0),
            with_tier=row.with_tier,
        )
        for row in rows
        if is_member or not row.members_only
    ]
