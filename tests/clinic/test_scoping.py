from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from clinic import services
from clinic.models import AuditLog, Branch
from clinic.selectors import get_branch_for_user, scope_to_branches, user_branch_ids

pytestmark = pytest.mark.django_db


def test_branch_staff_see_only_their_branches(front_desk, branch, other_branch):
    assert user_branch_ids(front_desk) == {branch.pk}
    assert list(scope_to_branches(Branch.objects.all(), front_desk, field="pk")) == [branch]


def test_all_branches_permission_lifts_the_scope(hq_admin, branch, other_branch):
    assert user_branch_ids(hq_admin) is None
    assert set(scope_to_branches(Branch.objects.all(), hq_admin, field="pk")) == {
        branch,
        other_branch,
    }


def test_scope_over_a_related_branch_field(manager, outsider, branch, other_branch):
    from django.db import transaction

    with transaction.atomic():
        services.audit_record(actor=manager, action="t.a", branch=branch)
        services.audit_record(actor=outsider, action="t.b", branch=other_branch)
        services.audit_record(actor=None, action="t.c")
    assert set(
        scope_to_branches(AuditLog.objects.filter(action__startswith="t."), manager).values_list(
            "action", flat=True
        )
    ) == {"t.a"}


def test_get_branch_for_user_404_outside_403_without_write(front_desk, hq_admin, branch, other_branch):
    assert get_branch_for_user(front_desk, branch.pk) == branch
    with pytest.raises(Http404):
        get_branch_for_user(front_desk, other_branch.pk)
    with pytest.raises(PermissionDenied):
        get_branch_for_user(front_desk, branch.pk, write=True)
    assert get_branch_for_user(hq_admin, other_branch.pk, write=True) == other_branch


def test_user_without_profile_sees_nothing(db, branch):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("loose", password="x-Pass-12345")
    assert user_branch_ids(user) == frozenset()


def test_admin_audit_log_is_scoped(manager, outsider, branch, other_branch, client_for):
    from django.db import transaction

    with transaction.atomic():
        services.audit_record(actor=manager, action="scope.mine", branch=branch)
        services.audit_record(actor=outsider, action="scope.theirs", branch=other_branch)
    page = client_for(manager).get("/admin/clinic/auditlog/").content.decode()
    assert "scope.mine" in page and "scope.theirs" not in page
