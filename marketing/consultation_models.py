"""Consultations (咨询), their outcomes and next steps, and each paid visit's last touch."""

from __future__ import annotations
