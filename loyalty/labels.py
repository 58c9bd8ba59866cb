"""Labels of the loyalty app's codes (clinic.labels): audit actions, periodic jobs and
message templates."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, job_names, message_templates

audit_actions.register(
    {
        "loyalty.membership.enrolled": _("Membership card issued"),
        "loyalty.tier.changed": _("Tier changed"),
        "loyalty.tier.review_warned": _("Tier review warning sent"),
        "loyalty.points.earned": _("Points earned"),
        "loyalty.points.bonus_awarded": _("Bonus points awarded"),
        "loyalty.points.refunded": _("Points refunded"),
        "loyalty.points.redeemed": _("Points redeemed"),
        "loyalty.points.adjusted": _("Points adjusted by hand"),
        "loyalty.points.reversed": _("Points reversed"),
        "loyalty.points.expired": _("Points expired"),
        "loyalty.points.opening_balances": _("Opening points balances imported"),
        "loyalty.ledger.drift_detected": _("Points ledger out of balance"),
        "loyalty.purchase.recorded": _("Purchase counted toward the tier"),
        "loyalty.purchase.reversed": _("Purchase taken off the tier count"),
        "loyalty.coupon.batch_created": _("Coupon batch created"),
        "loyalty.coupon.issued": _("Coupon issued"),
        "loyalty.coupon.redeemed": _("Coupon used"),
        "loyalty.coupon.restored": _("Coupon restored"),
        "loyalty.allowance.used": _("Yearly benefit used"),
        "loyalty.allowance.restored": _("Yearly benefit restored"),
        "loyalty.entitlement.used": _("Redeemed service used"),
        "loyalty.reward.redeemed": _("Reward redeemed"),
        "loyalty.reward.cancelled": _("Reward redemption cancelled"),
        "loyalty.referral.recorded": _("Referral recorded"),
        "loyalty.referral.imported": _("Referral imported from the old system"),
        "loyalty.referral.rewarded": _("Referral rewarded"),
        "loyalty.referral.capped": _("Referral reward over the monthly cap"),
        "loyalty.referral.reversed": _("Referral reward reversed"),
        "loyalty.review.rewarded": _("Review rewarded"),
        "loyalty.stored_value.topped_up": _("Stored value topped up"),
        "loyalty.stored_value.spent": _("Stored value spent"),
        "loyalty.stored_value.restored": _("Stored value spend restored"),
        "loyalty.stored_value.refunded": _("Stored value refunded"),
        "loyalty.stored_value.opened": _("Opening stored value balance imported"),
        "loyalty.stored_value.drift_detected": _("Stored value ledger out of balance"),
        "loyalty.stored_value.liability_exported": _("Stored value liability exported"),
    }
)
job_names.register(
    {
        "loyalty.points_expire": _("Expire points"),
        "loyalty.points_expiry_warn": _("Points expiry reminders"),
        "loyalty.points_reconcile": _("Points ledger reconciliation"),
        "loyalty.stored_value_reconcile": _("Stored value reconciliation"),
        "loyalty.tier_reviews": _("Tier reviews"),
        "loyalty.birthday_coupons": _("Birthday coupons"),
    }
)
message_templates.register(
    {
        "loyalty.welcome": _("Welcome to the membership"),
        "loyalty.points_expiring": _("Points expiring soon"),
        "loyalty.tier_upgraded": _("Tier upgraded"),
        "loyalty.tier_downgraded": _("Tier lowered"),
        "loyalty.tier_review_warning": _("Tier review warning"),
        "loyalty.referral_rewarded": _("Referral reward received"),
        "loyalty.referral_welcome": _("Welcome gift for a referred friend"),
        "loyalty.ledger_drift": _("Points ledger out of balance"),
        "loyalty.stored_value_drift": _("Stored value ledger out of balance"),
    }
)
