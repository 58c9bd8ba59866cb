"""Reads used by more than one view, already scoped to what the user may see."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Branch, JobHeartbeat, ServiceCategory, ServiceItem, StaffProfile

ALL_BRANCHES_PERM = "clinic.view_all_branches"


def user_branch_ids(user) -> frozenset[int] | None:
    """The ids of the branches ``user`` works at, or None when they may see every branch.

    Cached on the user object for the request: scoping runs on every list.
    """
    if not user.is_authenticated:
        return frozenset()
    if user.is_superuser or user.has_perm(ALL_BRANCHES_PERM):
        return None
    cached = getattr(user, "_clinic_branch_ids", None)
    if cached is None:
        cached = frozenset(
            Branch.objects.filter(staff__user=user, is_active=True).values_list("id", flat=True)
        )
        user._clinic_branch_ids = cached
    return cached


def scope_to_branches(qs: QuerySet, user, field: str | tuple[str, ...] = "branch") -> QuerySet:
    """Restrict ``qs`` to rows whose ``field`` is one of the user's branches.

    ``field`` is the lookup path to a Branch (``"branch"``, ``"visit__branch"``; ``"pk"`` for
    Branch itself), or a tuple of paths when a row belongs to a branch through any of them
    (a coupon: its batch's branch or its member's; to-one paths, so no row repeats). Rows with no branch are hidden from
    branch-bound staff.
    """
    ids = user_branch_ids(user)
    if ids is None:
        return qs
    condition = Q()
    for path in (field,) if isinstance(field, str) else field:
        condition |= Q(**{f"{path}__in" if path != "pk" else "pk__in": ids})
    return qs.filter(condition)


def branches_for_user(user) -> QuerySet[Branch]:
    return scope_to_branches(Branch.objects.filter(is_active=True), user, field="pk")


def get_branch_for_user(user, pk: int, *, write: bool = False) -> Branch:
    """404 outside the user's scope, 403 where visible but not writable."""
    branch = branches_for_user(user).filter(pk=pk).first()
    if branch is None:
        raise Http404
    if write and not user.has_perm("clinic.change_branch"):
        raise PermissionDenied
    return branch


def staff_profile(user) -> StaffProfile | None:
    try:
        return user.staff
    except (StaffProfile.DoesNotExist, AttributeError):
        return None


def catalog_items(
    *, query: str = "", category: int | None = None, include_inactive: bool = False
) -> QuerySet[ServiceItem]:
    """The price list, searchable by code, Chinese or English name."""
    qs = ServiceItem.objects.select_related("category")
    if not include_inactive:
        qs = qs.filter(is_active=True, category__is_active=True)
    if query:
        qs = qs.filter(Q(code__icontains=query) | Q(name__icontains=query) | Q(name_en__icontains=query))
    if category:
        qs = qs.filter(category_id=category)
    return qs.order_by("category__sort_order", "category__code", "code")


def catalog_categories() -> QuerySet[ServiceCategory]:
    return ServiceCategory.objects.filter(is_active=True).order_by("sort_order", "code")


def job_heartbeats() -> QuerySet[JobHeartbeat]:
    return JobHeartbeat.objects.order_by("name")
