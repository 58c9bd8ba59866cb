"""The timeline entries this app contributes: registration, contacts, consents."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .registry import TimelineEntry, register_timeline_source


def _registered(member, user, limit):
    yield TimelineEntry(at=member.created_at, kind="registered", title=_("Registered"), icon="bi-person-plus")


def _communications(member, user, limit):
    # .all(): served from the profile page's prefetch when there is one.
    for c in list(member.communications.all())[:limit]:
        staff = getattr(getattr(c.staff, "staff", None), "full_name", "") if c.staff else ""
        yield TimelineEntry(
            at=c.at,
            kind="communication",
            title=f"{c.get_channel_display()} · {c.get_direction_display()}",
            detail=c.summary,
            icon="bi-chat-dots",
            staff=staff,
        )


def _consents(member, user, limit):
    for c in list(member.consents.all())[:limit]:
        yield TimelineEntry(
            at=c.granted_at,
            kind="consent",
            title=_("Consent given"),
            detail=c.get_kind_display(),
            icon="bi-check2-square",
        )
        if c.withdrawn_at:
            yield TimelineEntry(
                at=c.withdrawn_at,
                kind="consent_withdrawn",
                title=_("Consent withdrawn"),
                detail=c.get_kind_display(),
                icon="bi-x-square",
            )


def register_defaults() -> None:
    register_timeline_source("members.registered", _registered)
    register_timeline_source("members.communications", _communications)
    register_timeline_source("members.consents", _consents)
