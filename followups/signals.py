"""Signals this app sends, always after commit. Higher apps (complaints) listen.

``survey_bad_answer(sender=SurveyResponse, response=<SurveyResponse>)`` — a satisfaction
survey was answered badly (any star ≤ 2 or NPS ≤ 6): a complaint candidate.
"""

from __future__ import annotations

from django.dispatch import Signal

survey_bad_answer = Signal()
