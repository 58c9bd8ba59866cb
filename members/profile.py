"""The profile page's context: header, tabs (own and registered), timeline, forms.

Only the active tab's data is loaded (tabs are server-side links), and what the header and
the timeline share is prefetched once: the page stays within 16 queries (the duplicates panel loads after it).
"""

from __future__ import annotations

from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest

from . import services
from .forms import CommunicationForm, ConsentForm, FamilyLinkForm, MedicalForm
from .models import CommunicationLog, Consent, Member, MemberStatus
from .registry import badges_for, tabs_for, timeline_for

TABS = ("overview", "details", "communications", "consents", "family", "medical")


def profile_context(request: HttpRequest, member: Member) -> dict:
    user = request.user
    tab = request.GET.get("tab") or "overview"
    can_medical = user.has_perm("clinic.view_medical")
    active = member.status == MemberStatus.ACTIVE
    can_change = user.has_perm("members.change_member") and active
    if can_medical and (member.has_medical_alerts or member.dental_history):
        services.medical_view_record(actor=user, member=member)
    prefetch_related_objects(
        [member],
        Prefetch("communications", queryset=CommunicationLog.objects.select_related("staff__staff")),
        Prefetch("consents", queryset=Consent.objects.select_related("granted_by__staff", "guardian")),
    )
    family = []
    if tab == "family" or member.needs_guardian_consent:
        family = list(member.family_links.select_related("relative"))
    extra_tabs = [(t, t.context(member, user) if t.key == tab else {}) for t in tabs_for(user)]
    return {
        "member": member,
        "tab": tab,
        "restricted": member.status == MemberStatus.RESTRICTED,
        "can_change": can_change,
        "can_medical": can_medical,
        "can_reveal_phone": user.has_perm("clinic.reveal_contact") and active,
        "can_reveal_id": user.has_perm("clinic.reveal_id_number") and active,
        "can_erase": user.has_perm("members.erase_member"),
        "badges": badges_for(member),
        "tags": member.tag_rows if hasattr(member, "tag_rows") else list(member.tags.values("name", "color")),
        "consents": list(member.consents.all()),
        "family": family,
        "guardians": [link for link in family if link.is_guardian],
        "communications": list(member.communications.all())[:50],
        "timeline": timeline_for(member, user) if tab == "overview" else [],
        "check_duplicates": user.has_perm("members.merge_member") and active,
        "extra_tabs": extra_tabs,
        "consent_form": ConsentForm(member=member) if can_change and tab == "consents" else None,
        "communication_form": CommunicationForm() if can_change else None,
        "family_form": FamilyLinkForm() if can_change else None,
        "medical_form": MedicalForm(
            initial={
                "allergies": member.allergies,
                "conditions": [c for c in member.conditions.split(",") if c],
                "dental_history": member.dental_history,
            }
        )
        if can_medical and can_change and tab == "medical"
        else None,
        "retain_until": services.retention_reason(member)
        if member.status == MemberStatus.RESTRICTED
        else None,
    }
