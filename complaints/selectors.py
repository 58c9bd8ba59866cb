"""Reads of complaints, scoped to what the user may see:

* branch staff with ``complaints.view_complaint`` see their branches' complaints, HQ all;
* a doctor asked for a medical review (``complaints.review_complaint``) sees the complaints
  they were asked to review, and only those;
* nobody sees a complaint about themselves (``staff``), whatever their role.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from clinic.selectors import user_branch_ids

from .models import Complaint

VIEW_PERM = "complaints.view_complaint"
WORK_PERM = "complaints.work_complaint"
REVIEW_PERM = "complaints.review_complaint"


def complaints_for_user(user) -> QuerySet[Complaint]:
    qs = Complaint.objects.select_related("branch", "member", "assignee__staff", "staff__staff")
    if not user.is_authenticated:
        return qs.none()
    condition = Q(pk__in=[])
    if user.has_perm(VIEW_PERM):
        ids = user_branch_ids(user)
        condition = Q() if ids is None else Q(branch_id__in=ids)
    if user.has_perm(REVIEW_PERM):
        condition |= Q(reviewer=user)
    return qs.filter(condition).exclude(staff=user)


def get_complaint_for_user(user, pk: int, *, write: bool = False) -> Complaint:
    """404 outside the user's scope, 403 when seen but not to be worked on."""
    complaint = complaints_for_user(user).filter(pk=pk).first()
    if complaint is None:
        raise Http404
    if write and not user.has_perm(WORK_PERM):
        raise PermissionDenied
    return complaint
