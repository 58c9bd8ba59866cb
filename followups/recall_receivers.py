"""Recall, reactivation and surveys listen to appointments' visits (after commit, so a
failure here never undoes a checkout; the nightly ``recalls_sync`` and
``surveys_invite_missing`` pick up whatever a failed listener missed)."""

from __future__ import annotations

import logging

from appointments.models import Visit
from appointments.signals import visit_completed, visit_voided

log = logging.getLogger(__name__)


def on_visit_completed(sender, visit: Visit, **kwargs) -> None:
    from .dormancy import reactivation_close
    from .recall import recall_on_visit
    from .surveys import survey_invite

    for step, fn in (
        ("recall", lambda: recall_on_visit(actor=None, visit=visit)),
        ("reactivation", lambda: reactivation_close(actor=None, member_id=visit.member_id)),
        ("survey", lambda: survey_invite(visit=visit)),
    ):
        try:
            fn()
        except Exception:  # the nightly passes repair it; never break the checkout's response
            log.exception("followups %s after visit %s failed", step, visit.pk)


def on_visit_voided(sender, visit: Visit, **kwargs) -> None:
    from .recall import recall_on_void

    try:
        recall_on_void(actor=None, visit=visit)
    except Exception:
        log.exception("followups recall after void of visit %s failed", visit.pk)


def connect() -> None:
    from loyalty.registry import register_keep_credit

    from .recall import recall_keep_credits

    visit_completed.connect(on_visit_completed, sender=Visit, dispatch_uid="followups.recall.completed")
    visit_voided.connect(on_visit_voided, sender=Visit, dispatch_uid="followups.recall.voided")
    register_keep_credit("followups.recall", recall_keep_credits)
    _register_merge_fields()
    _register_navigation()
    _register_profile()
    from . import recall_admin

    recall_admin.register()


def _register_navigation() -> None:
    from django.utils.translation import gettext_lazy as _

    from clinic.navigation import NavItem, register

    # The "followups" group is registered by FollowupsConfig.ready with the work list.
    register(
        NavItem(
            "followups:recall_list",
            _("Recalls"),
            "bi-calendar2-check",
            ("followups.view_recall",),
            order=55,
            group="followups",
        )
    )
    register(
        NavItem(
            "followups:satisfaction",
            _("Satisfaction"),
            "bi-emoji-smile",
            ("followups.view_satisfaction",),
            order=57,
            group="followups",
        )
    )


def _register_merge_fields() -> None:
    from members.registry import register_merge_field

    from .models import (
        EventSurveyInvitation,
        EventSurveyResponse,
        Reactivation,
        Recall,
        RecallKeep,
        SurveyInvitation,
        SurveyResponse,
    )

    register_merge_field(Recall, "member", before_move=_recall_before_move)
    for model in (
        RecallKeep,
        Reactivation,
        SurveyInvitation,
        SurveyResponse,
        EventSurveyInvitation,
        EventSurveyResponse,
    ):
        register_merge_field(model, "member")


def _recall_before_move(source, target) -> dict:
    """One recall per person and type: where both have one, the kept record keeps the later
    visit's recall and the duplicate's keeps move onto it."""
    from .models import Recall, RecallKeep

    dropped = []
    for dup in Recall.objects.filter(member=source):
        mine = Recall.objects.filter(member=target, recall_type_id=dup.recall_type_id).first()
        if mine is None:
            continue
        newer, older = (
            (dup, mine)
            if (dup.last_visit_on or dup.due_on) > (mine.last_visit_on or mine.due_on)
            else (mine, dup)
        )
        for keep in RecallKeep.objects.filter(recall=older):
            if not RecallKeep.objects.filter(recall=newer, due_on=keep.due_on).exists():
                RecallKeep.objects.filter(pk=keep.pk).update(recall=newer)
        if newer is dup:
            Recall.objects.filter(pk=mine.pk).delete()
        else:
            Recall.objects.filter(pk=dup.pk).delete()
        dropped.append(older.pk)
    return {"recalls_dropped": dropped} if dropped else {}


def _register_profile() -> None:
    """The person's recalls and survey answers: a profile tab and timeline entries."""
    from django.utils.translation import gettext_lazy as _

    from members.registry import ProfileTab, register_profile_tab, register_timeline_source

    register_profile_tab(
        ProfileTab(
            key="recalls",
            label=_("Recalls and surveys"),
            template="followups/recall_member_tab.html",
            context=_tab_context,
            permission="followups.view_recall",
            order=40,
        )
    )
    register_timeline_source("followups.recall", _timeline, permission="followups.view_recall")


def _tab_context(member, user) -> dict:
    from .models import RecallKeep, SurveyResponse
    from .recall import recalls_for_member

    return {
        "recalls": list(recalls_for_member(member)),
        "keeps": list(RecallKeep.objects.filter(member=member).select_related("recall__recall_type")[:10]),
        "answers": list(SurveyResponse.objects.filter(member=member).select_related("doctor__staff")[:10])
        if user.has_perm("followups.view_satisfaction")
        else [],
    }


def _timeline(member, user, limit: int):
    import datetime as dt

    from django.utils import timezone
    from django.utils.translation import gettext as _

    from members.registry import TimelineEntry

    from .models import RecallKeep

    entries = []
    for keep in RecallKeep.objects.filter(member=member, voided_at__isnull=True).select_related(
        "recall__recall_type"
    )[:limit]:
        at = timezone.make_aware(dt.datetime.combine(keep.kept_on, dt.time(12)))
        title = (_("Recall kept on time: %(type)s") if keep.on_time else _("Recall kept late: %(type)s")) % {
            "type": keep.recall.recall_type.display_name
        }
        detail = _("+%(points)s points") % {"points": keep.points} if keep.points else ""
        entries.append(
            TimelineEntry(at=at, kind="recall", title=title, detail=detail, icon="bi-calendar2-check")
        )
    return entries
