"""Every write of the loyalty app. Each service owns its transaction and writes its audit
row inside it. Split by subject; import from here."""

from __future__ import annotations

from .allowances import allowance_consume, allowance_restore, allowance_status, membership_year
from .config import points_bonus_award, tier_ladder_errors, tier_save
from .enrolment import card_is_valid, card_number_next, check_digit, membership_enrol
from .ledger import (
    OpeningBalance,
    account_open,
    expiry_date,
    points_adjust,
    points_earn,
    points_open_balances,
    points_open_balances_from,
    points_redeem,
    points_reverse,
    points_transfer_on_merge,
    policy,
)
from .ledger_jobs import ledger_drift_rows, points_expire_due, points_expiry_warn, points_reconcile
from .purchases import points_for, purchase_record, purchase_reverse
from .stored_value import (
    bonus_rule_for,
    stored_value_drift_rows,
    stored_value_liability_xlsx,
    stored_value_open_balance,
    stored_value_reconcile,
    stored_value_refund,
    stored_value_restore,
    stored_value_spend,
    stored_value_top_up,
    stored_value_transfer_on_merge,
)
from .tiers import (
    keep_requirement,
    keep_tier_text,
    qualifies,
    qualifying_tier,
    rolling_stats,
    tier_evaluate_upgrade,
    tier_override,
    tier_review,
    tier_reviews_run,
)

__all__ = [
    "OpeningBalance",
    "account_open",
    "allowance_consume",
    "allowance_restore",
    "allowance_status",
    "bonus_rule_for",
    "card_is_valid",
    "card_number_next",
    "check_digit",
    "expiry_date",
    "keep_requirement",
    "keep_tier_text",
    "ledger_drift_rows",
    "membership_enrol",
    "membership_year",
    "points_adjust",
    "points_bonus_award",
    "points_earn",
    "points_expire_due",
    "points_expiry_warn",
    "points_for",
    "points_open_balances",
    "points_open_balances_from",
    "points_reconcile",
    "points_redeem",
    "points_reverse",
    "points_transfer_on_merge",
    "policy",
    "purchase_record",
    "purchase_reverse",
    "qualifies",
    "qualifying_tier",
    "rolling_stats",
    "stored_value_drift_rows",
    "stored_value_liability_xlsx",
    "stored_value_open_balance",
    "stored_value_reconcile",
    "stored_value_refund",
    "stored_value_restore",
    "stored_value_spend",
    "stored_value_top_up",
    "stored_value_transfer_on_merge",
    "tier_evaluate_upgrade",
    "tier_ladder_errors",
    "tier_override",
    "tier_review",
    "tier_reviews_run",
    "tier_save",
]
