"""django-import-export resources of loyalty's configuration (see clinic/resources.py)."""

from __future__ import annotations

from clinic.resources import audited_resource

from .coupon_models import CouponTemplate, RewardItem
from .models import Tier, TierCategoryDiscount

TierResource = audited_resource(
    Tier,
    ["code", "name", "name_en", "rank", "qualify_amount", "qualify_visits", "qualify_logic",
     "basic_care_discount", "points_multiplier", "priority_booking", "dedicated_rep", "is_active"],
)  # fmt: skip
TierCategoryDiscountResource = audited_resource(
    TierCategoryDiscount,
    ["tier", "category", "percent"],
    foreign={"tier": "code", "category": "code"},
    id_fields=("tier", "category"),
)
CouponTemplateResource = audited_resource(
    CouponTemplate,
    ["id", "name", "kind", "amount_off", "percent_off", "cap", "free_item", "min_spend", "categories",
     "items", "valid_from", "valid_until", "valid_days", "per_member_limit", "stackable",
     "with_tier_discount", "is_active"],
    foreign={"free_item": "code"},
    id_fields=("id",),
)  # fmt: skip
RewardItemResource = audited_resource(
    RewardItem,
    ["id", "name", "kind", "points_cost", "stock", "per_member_limit", "available_from", "available_until",
     "service_item", "entitlement_days", "coupon_template"],
    foreign={"service_item": "code", "coupon_template": "id"},
    id_fields=("id",),
)  # fmt: skip
