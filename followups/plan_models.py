"""Follow-up plans: rules per service or category, each a sequence of steps."""

from __future__ import annotations
