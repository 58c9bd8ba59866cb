"""Referral partners' contract terms, the rebates they earn, and monthly statements."""

from __future__ import annotations
