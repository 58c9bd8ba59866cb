"""Satisfaction surveys (满意度调查): after a checked-out visit (``CarePolicy.survey_delay_hours``
later) the person gets a link with a signed token to a public phone page; one answer per
visit; the survey reward once (loyalty's ``review_reward``, key ``survey:<invitation>``); a bad
answer (any star ≤ 2 or NPS ≤ 6) makes a task for the branch manager and sends
``signals.survey_bad_answer`` after commit (the complaints app's candidate).

The token is ``django.core.signing`` over the invitation id and a random nonce, with a
timestamp: forged, altered or expired tokens are refused with a reason, never a 500. Single
use holds in the database: the answer is one-to-one with its invitation.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from appointments.models import Visit, VisitStatus
from clinic.models import Role
from clinic.services import audit_record
from loyalty.errors import LoyaltyError

from .dormancy import care_policy
from .errors import FollowupError
from .models import SurveyInvitation, SurveyResponse, SurveyStatus, TaskKind
from .recall_notify import care_notify
from .services import task_create
from .signals import survey_bad_answer

SALT = "followups.survey"
BAD_SCORE, BAD_NPS = 2, 6

TAGS = {
    "professional": gettext_lazy("Professional"),
    "gentle": gettext_lazy("Gentle, little pain"),
    "explained": gettext_lazy("Explained clearly"),
    "clean": gettext_lazy("Clean and comfortable"),
    "long_wait": gettext_lazy("Long wait"),
    "price": gettext_lazy("Price unclear or high"),
    "rushed": gettext_lazy("Felt rushed"),
    "unfriendly": gettext_lazy("Unfriendly service"),
}
SCORES = ("doctor_score", "front_desk_score", "environment_score", "waiting_score")


def survey_token(invitation: SurveyInvitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=SALT, compress=True)


def survey_link(invitation: SurveyInvitation) -> str:
    base = getattr(settings, "PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
    return base + reverse("followups:survey", kwargs={"token": survey_token(invitation)})


@transaction.atomic
def survey_invite(*, visit: Visit) -> SurveyInvitation | None:
    """The survey invitation of a checked-out visit, made once (one-to-one with the visit)."""
    if visit.status != VisitStatus.CHECKED_OUT or not visit.checked_out_at:
        return None
    existing = SurveyInvitation.objects.filter(visit=visit).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return SurveyInvitation.objects.create(
                visit=visit,
                member_id=visit.member_id,
                branch_id=visit.branch_id,
                doctor_id=visit.doctor_id,
                nonce=secrets.token_hex(8),
                send_at=visit.checked_out_at + dt.timedelta(hours=care_policy().survey_delay_hours),
            )
    except IntegrityError:
        return SurveyInvitation.objects.get(visit=visit)


def surveys_invite_missing(*, days: int = 3) -> int:
    """Invitations for visits of the last ``days`` days that have none (a lost signal)."""
    since = timezone.now() - dt.timedelta(days=days)
    visits = Visit.objects.filter(status=VisitStatus.CHECKED_OUT, checked_out_at__gte=since).exclude(
        pk__in=SurveyInvitation.objects.filter(created_at__gte=since - dt.timedelta(days=1)).values(
            "visit_id"
        )
    )
    made = 0
    for visit in visits.iterator(chunk_size=1000):
        made += survey_invite(visit=visit) is not None
    return made


def surveys_send_due(*, now: dt.datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """Send the invitations whose time has come. Each is claimed by a conditional update
    (pending → sent) so two runs never send one twice; a voided visit's is skipped."""
    now = now or timezone.now()
    counts = {"sent": 0, "skipped": 0}
    due = SurveyInvitation.objects.filter(status=SurveyStatus.PENDING, send_at__lte=now).select_related(
        "member", "branch", "visit"
    )[:limit]
    for inv in due:
        with transaction.atomic():
            if (
                SurveyInvitation.objects.filter(pk=inv.pk, status=SurveyStatus.PENDING).update(
                    status=SurveyStatus.SENT, sent_at=now
                )
                != 1
            ):
                continue
            if inv.visit.status != VisitStatus.CHECKED_OUT:
                SurveyInvitation.objects.filter(pk=inv.pk).update(status=SurveyStatus.SKIPPED, note="voided")
                counts["skipped"] += 1
                continue
            with translation.override(inv.member.language or "zh-hans"):
                row = care_notify(
                    member=inv.member,
                    template_key="followups.survey",
                    params={
                        "name": inv.member.name,
                        "branch": inv.branch.display_name,
                        "link": survey_link(inv),
                    },
                    dedupe_key=f"survey:{inv.pk}",
                )
            if row is None:
                SurveyInvitation.objects.filter(pk=inv.pk).update(
                    status=SurveyStatus.SKIPPED, note="not sent"
                )
                counts["skipped"] += 1
            else:
                counts["sent"] += 1
    return counts


def token_data(token: str, *, salt: str) -> dict:
    """The invitation id ``i`` and nonce ``n`` a survey link's token carries, or
    ``FollowupError`` (``expired`` / ``invalid``): for the visit and the event survey alike."""
    valid_days = care_policy().survey_valid_days
    try:
        data = signing.loads(token or "", salt=salt, max_age=dt.timedelta(days=valid_days))
    except signing.SignatureExpired as exc:
        raise FollowupError(_("This survey link has expired."), code="expired") from exc
    except (signing.BadSignature, ValueError, TypeError, UnicodeError) as exc:
        raise FollowupError(_("This survey link is not valid."), code="invalid") from exc
    if not isinstance(data, dict) or not isinstance(data.get("i"), int) or not isinstance(data.get("n"), str):
        raise FollowupError(_("This survey link is not valid."), code="invalid")
    return data


def survey_open(token: str) -> SurveyInvitation:
    """The invitation a token names, or ``FollowupError`` with ``code`` invalid / expired /
    answered / closed."""
    return invitation_open(
        token,
        salt=SALT,
        invitations=SurveyInvitation.objects.select_related("member", "branch", "doctor__staff", "visit"),
        answered=lambda inv: SurveyResponse.objects.filter(invitation=inv).exists(),
        closed=lambda inv: inv.visit.status != VisitStatus.CHECKED_OUT,
    )


def invitation_open(token: str, *, salt: str, invitations, answered, closed):
    """The invitation of ``invitations`` a survey link's token names — for the visit and the
    event survey alike — or ``FollowupError`` with ``code`` invalid / expired / answered /
    closed (``answered(inv)`` and ``closed(inv)`` say what the database holds besides the
    invitation's own status)."""
    data = token_data(token, salt=salt)
    inv = invitations.filter(pk=data["i"], nonce=data["n"]).first()
    if inv is None:
        raise FollowupError(_("This survey link is not valid."), code="invalid")
    if inv.status == SurveyStatus.ANSWERED or answered(inv):
        raise FollowupError(_("Thank you: this survey has already been answered."), code="answered")
    if inv.status == SurveyStatus.SKIPPED or closed(inv):
        raise FollowupError(_("This survey is closed."), code="closed")
    return inv


@dataclass(frozen=True)
class Answer:
    doctor_score: int
    front_desk_score: int
    environment_score: int
    waiting_score: int
    nps: int
    tags: tuple[str, ...] = ()
    comment: str = ""


def is_bad(answer, scores: tuple[str, ...] = SCORES) -> bool:
    """Any star ≤ 2 or NPS ≤ 6: the visit and the event survey alike."""
    return min(getattr(answer, f) for f in scores) <= BAD_SCORE or answer.nps <= BAD_NPS


def answer_check(answer, scores: tuple[str, ...] = SCORES) -> None:
    """Every star 1–5 and NPS 0–10, or ``FollowupError`` naming the field."""
    for field in scores:
        if not 1 <= getattr(answer, field) <= 5:
            raise FollowupError(_("Give every rating 1 to 5 stars."), field=field)
    if not 0 <= answer.nps <= 10:
        raise FollowupError(_("Choose 0 to 10."), field="nps")


def survey_reward(*, member, source_key: str) -> int:
    """The survey reward (loyalty's ``review_reward``) once per ``source_key``: its points,
    0 when none is configured or the record is restricted."""
    from loyalty.auto_coupons import review_reward

    try:
        reward = review_reward(actor=None, member=member, source_key=source_key)
    except LoyaltyError:
        return 0
    return reward.points.points if reward.points is not None else 0


@transaction.atomic
def survey_answer(*, token: str, answer: Answer) -> SurveyResponse:
    """Record the one answer of a visit's survey, reward it once, raise the alarm if bad."""
    inv = survey_open(token)
    inv = (
        SurveyInvitation.objects.select_for_update()
        .select_related("member", "branch", "visit")
        .get(pk=inv.pk)
    )
    if SurveyResponse.objects.filter(invitation=inv).exists():
        raise FollowupError(_("Thank you: this survey has already been answered."), code="answered")
    answer_check(answer)
    bad = is_bad(answer)
    response = SurveyResponse.objects.create(
        invitation=inv,
        member_id=inv.member_id,
        branch_id=inv.branch_id,
        doctor_id=inv.doctor_id,
        visit_on=timezone.localtime(inv.visit.checked_out_at).date(),
        **{f: getattr(answer, f) for f in SCORES},
        nps=answer.nps,
        tags=[t for t in answer.tags if t in TAGS][:8],
        comment=(answer.comment or "")[:2000],
        is_bad=bad,
    )
    SurveyInvitation.objects.filter(pk=inv.pk).update(status=SurveyStatus.ANSWERED)
    response.points = survey_reward(member=inv.member, source_key=f"survey:{inv.pk}")
    if response.points:
        response.save(update_fields=["points"])
    audit_record(
        actor=None,
        action="followups.survey.answered",
        target=response,
        changes={"visit": inv.visit_id, "bad": bad, "nps": answer.nps, "points": response.points},
    )
    if bad:
        _alert_manager(inv, response)
        pk = response.pk
        transaction.on_commit(
            lambda: survey_bad_answer.send(sender=SurveyResponse, response=SurveyResponse.objects.get(pk=pk))
        )
    return response


def branch_manager(branch_id: int):
    return (
        get_user_model()
        .objects.filter(is_active=True, staff__role=Role.BRANCH_MANAGER, staff__branches__id=branch_id)
        .order_by("pk")
        .first()
    )


def _alert_manager(inv: SurveyInvitation, response: SurveyResponse) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        low = [
            str(SurveyResponse._meta.get_field(f).verbose_name)
            for f in SCORES
            if getattr(response, f) <= BAD_SCORE
        ]
        script = _("Scores: doctor %(d)s, front desk %(f)s, environment %(e)s, waiting %(w)s; NPS %(n)s.") % {
            "d": response.doctor_score,
            "f": response.front_desk_score,
            "e": response.environment_score,
            "w": response.waiting_score,
            "n": response.nps,
        }
        if response.comment:
            script += "\n" + response.comment
        title = _("Unhappy survey answer: call back today")
        if low:
            title = _("Unhappy survey answer (%(what)s): call back today") % {"what": "、".join(low)}
    task_create(
        actor=None,
        member=inv.member,
        kind=TaskKind.SURVEY,
        title=title,
        due_on=timezone.localdate(),
        source_key=f"survey:{inv.pk}:bad",
        assignee=branch_manager(inv.branch_id),
        script=script,
        visit=inv.visit,
    )


# --- the managers' figures ------------------------------------------------------------------

SATISFIED = Q(doctor_score__gte=4, front_desk_score__gte=4, environment_score__gte=4, waiting_score__gte=4)


def satisfaction_rows(responses) -> list[dict]:
    """Per doctor: answers, satisfied answers and their rate (docs/recall.md), average stars,
    NPS (promoters 9–10 minus detractors 0–6, in points of 100) and bad answers."""
    rows = (
        responses.values("doctor_id", "doctor__staff__full_name", "doctor__username")
        .annotate(
            answers=Count("id"),
            satisfied=Count("id", filter=SATISFIED),
            promoters=Count("id", filter=Q(nps__gte=9)),
            detractors=Count("id", filter=Q(nps__lte=6)),
            bad=Count("id", filter=Q(is_bad=True)),
            doctor_avg=Avg("doctor_score"),
            front_avg=Avg("front_desk_score"),
            env_avg=Avg("environment_score"),
            wait_avg=Avg("waiting_score"),
        )
        .order_by("doctor__staff__full_name", "doctor_id")
    )
    out = []
    for r in rows:
        out.append({**r, **_rates(r)})
    return out


def _rates(r: dict) -> dict:
    n = r["answers"] or 0
    if not n:
        return {"rate": None, "nps_score": None}
    return {
        "rate": round(100 * r["satisfied"] / n, 1),
        "nps_score": round(100 * (r["promoters"] - r["detractors"]) / n),
    }


def satisfaction_total(responses) -> dict:
    r = responses.aggregate(
        answers=Count("id"),
        satisfied=Count("id", filter=SATISFIED),
        promoters=Count("id", filter=Q(nps__gte=9)),
        detractors=Count("id", filter=Q(nps__lte=6)),
        bad=Count("id", filter=Q(is_bad=True)),
    )
    return {**r, **_rates(r)}


TARGET_RATE = 90


# --- the member's own surveys (the H5 portal) -------------------------------------------------


def member_surveys_pending(member_id: int, *, now: dt.datetime | None = None):
    """The person's surveys still open to answer: invited (sent, or due to be sent), not
    answered, of a visit still checked out, within the link's validity."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=care_policy().survey_valid_days)
    return (
        SurveyInvitation.objects.filter(
            member_id=member_id,
            status__in=(SurveyStatus.PENDING, SurveyStatus.SENT),
            visit__status=VisitStatus.CHECKED_OUT,
            created_at__gte=since,
        )
        .exclude(response__isnull=False)
        .select_related("branch", "doctor__staff", "visit")
        .order_by("-created_at", "-id")
    )


def member_survey_answer(*, actor, invitation: SurveyInvitation, answer: Answer) -> SurveyResponse:
    """The member answers their own survey in the portal: the same one answer per visit, the
    same reward and bad-answer alarm as the link in the message (``survey_answer``)."""
    from members.actors import is_member_actor

    if not is_member_actor(actor) or actor.member.pk != invitation.member_id:
        raise FollowupError(_("This survey is not yours."), code="invalid")
    return survey_answer(token=survey_token(invitation), answer=answer)
