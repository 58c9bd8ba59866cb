"""Listen to followups' ``survey_bad_answer`` (sent after commit): a bad satisfaction answer
becomes a complaint in 已受理, once per answer (source key ``survey:<id>``). A failure is
logged and never breaks the survey that sent the signal."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# The lowest score names the likely category.
_SCORE_CATEGORY = (
    ("doctor_score", "outcome"),
    ("front_desk_score", "attitude"),
    ("waiting_score", "waiting"),
    ("environment_score", "hygiene"),
)


def on_survey_bad_answer(sender, response, **kwargs) -> None:
    from django.utils import translation
    from django.utils.translation import gettext as _

    from .models import Channel
    from .services import complaint_receive

    try:
        field, category = min(_SCORE_CATEGORY, key=lambda fc: getattr(response, fc[0]))
        visit = getattr(response.invitation, "visit", None)
        with translation.override("zh-hans"):
            scores = ", ".join(
                f"{response._meta.get_field(f).verbose_name} {getattr(response, f)}"
                for f, _c in _SCORE_CATEGORY
            )
            complaint_receive(
                actor=None,
                branch=response.branch,
                channel=Channel.SURVEY,
                member=response.member,
                subject=_("Bad satisfaction survey answer"),
                description=(response.comment or "").strip() or scores,
                expectation="",
                category=category if getattr(response, field) <= 2 else "other",
                visit=visit,
                staff=response.doctor if field == "doctor_score" else None,
                received_at=response.answered_at,
                source_key=f"survey:{response.pk}",
            )
    except Exception:
        log.exception("complaint from survey answer %s failed", getattr(response, "pk", None))


def connect() -> None:
    from followups.signals import survey_bad_answer

    survey_bad_answer.connect(on_survey_bad_answer, dispatch_uid="complaints.survey_bad_answer")
