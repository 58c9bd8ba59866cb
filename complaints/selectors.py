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
    if user.has_perm(VIEW_PERM):
        ids = user_branch_ids(user)
        if ids is None:
            return qs.exclude(staff=user)
        condition = Q(branch_id__in=ids)
    else:
        condition = Q(pk__in=[])
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


def _span(delta) -> str:
    from django.utils.translation import gettext as _

    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": mins}
    return _("%(minutes)s min") % {"minutes": mins}


def with_clock(complaint: Complaint, now) -> Complaint:
    """Annotate the clock that runs now: ``clock_what`` (acknowledgement / proposal),
    ``clock_due``, ``clock_text`` ("1 d 3 h left" / "overdue 2 h") and ``clock_state``
    (ok / soon / overdue / paused / done) for the list and the page."""
    from django.utils.translation import gettext as _

    from .models import OPEN_STATUSES

    complaint.clock_what = complaint.clock_due = None
    complaint.clock_text, complaint.clock_state = "", "done"
    if complaint.status not in OPEN_STATUSES:
        return complaint
    if complaint.acknowledged_at is None:
        complaint.clock_what, complaint.clock_due = _("Acknowledgement"), complaint.ack_due_at
    elif complaint.proposed_at is None:
        complaint.clock_what, complaint.clock_due = _("Proposal"), complaint.proposal_due_at
    else:
        return complaint
    if complaint.paused_at is not None:
        complaint.clock_state = "paused"
        complaint.clock_text = _("Waiting on the customer")
        return complaint
    left = complaint.clock_due - now
    if left.total_seconds() <= 0:
        complaint.clock_state = "overdue"
        complaint.clock_text = _("Overdue by %(span)s") % {"span": _span(left)}
    else:
        complaint.clock_state = "soon" if left.total_seconds() < 8 * 3600 else "ok"
        complaint.clock_text = _("%(span)s left") % {"span": _span(left)}
    return complaint
