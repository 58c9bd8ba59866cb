"""The feedback score of a campaign (活动评价, issue 16), filled in by a higher app.

The event survey (a questionnaire after the event) lives in ``followups`` (layer 7, above
marketing), so marketing cannot read its answers itself: followups registers its summary
function here at start-up (``FollowupsConfig.ready``), and ``campaign_feedback`` asks it. With
nothing registered the summary is empty (no answers), never an error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Campaign


@dataclass(frozen=True)
class FeedbackSummary:
    answers: int = 0
    score_avg: Decimal | None = None  # the overall stars, 1–5, one decimal
    satisfied_rate: Decimal | None = None  # answers with every star 4 or 5, 0–1


EMPTY = FeedbackSummary()

_source: Callable[[Campaign], FeedbackSummary] | None = None


def register_feedback_source(fn: Callable[[Campaign], FeedbackSummary] | None) -> None:
    """Set the one function that summarises a campaign's feedback (a later call replaces it;
    None removes it)."""
    global _source
    _source = fn


def feedback_source() -> Callable[[Campaign], FeedbackSummary] | None:
    return _source


def campaign_feedback(campaign: Campaign) -> FeedbackSummary:
    """The campaign's feedback: answers, average overall score and satisfied share."""
    if _source is None:
        return EMPTY
    return _source(campaign)
