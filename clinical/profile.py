"""The person's 病历 tab on the profile page (members.registry.ProfileTab)."""

from __future__ import annotations

from . import selectors, services


def profile_tab(member, user) -> dict:
    notes = list(
        member.clinical_notes.select_related("visit", "author__staff").prefetch_related("amendments")[:20]
    )
    services.notes_read(actor=user, member=member, notes=notes)
    current = [(n, services.note_current(n)) for n in notes]
    plans = list(selectors.plans_for_user(user).filter(member=member)[:20])
    findings = selectors.chart_as_of(member.pk)
    from appointments.models import Visit

    visits = list(
        Visit.objects.filter(member=member)
        .exclude(status="voided")
        .select_related("branch", "doctor__staff", "clinical_note")
        .order_by("-opened_at")[:10]
    )
    return {
        "visits": visits,
        "notes": current,
        "attachments": list(member.clinical_attachments.select_related("uploaded_by__staff")[:30]),
        "plans": plans,
        "grid": selectors.chart_grid(findings, primary=False),
        "primary_grid": selectors.chart_grid(findings, primary=True)
        if any(f.tooth > 50 for f in findings)
        else None,
    }
