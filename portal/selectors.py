"""Who a phone reaches, and the member-scoped fetches every portal page goes through.

A phone reaches every active person whose own mobile it is (a family often shares one) and
every person one of them is the registered guardian of (``FamilyLink.is_guardian``: a child
with no phone of their own). Pages only ever fetch through ``request.portal``: an id of
anyone outside that set is a 404, whatever it names.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from members.models import FamilyLink, Member, MemberStatus


def members_for_phone(phone: str) -> list[Member]:
    """The people ``phone`` (E.164) may act for, the phone's own people first, by id."""
    if not phone:
        return []
    own = list(
        Member.objects.filter(phone=phone, status=MemberStatus.ACTIVE).select_related("branch").order_by("id")
    )
    if not own:
        return []
    seen = {m.pk for m in own}
    wards = (
        Member.objects.filter(
            pk__in=FamilyLink.objects.filter(relative__in=own, is_guardian=True).values("member_id"),
            status=MemberStatus.ACTIVE,
        )
        .exclude(pk__in=seen)
        .select_related("branch")
        .order_by("id")
    )
    return own + list(wards)


def phone_reaches_anyone(phone: str) -> bool:
    return Member.objects.filter(phone=phone, status=MemberStatus.ACTIVE).exists()


def get_for_member(queryset: QuerySet, portal, pk, *, field: str = "member") -> object:
    """The row ``pk`` of ``queryset`` if it belongs to one of the people this portal session
    reaches, else 404 (never 403: the member learns nothing about other people's ids)."""
    try:
        return queryset.get(pk=int(pk), **{f"{field}_id__in": portal.member_ids})
    except (ValueError, TypeError, queryset.model.DoesNotExist) as exc:
        raise Http404 from exc


def family_of(member: Member) -> list[FamilyLink]:
    return list(
        FamilyLink.objects.filter(member=member).select_related("relative").order_by("relation", "id")
    )
