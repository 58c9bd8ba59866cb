"""Recall (复诊/洁牙提醒), dormancy, care messages and satisfaction surveys."""

from __future__ import annotations
