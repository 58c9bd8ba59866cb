"""HQ configures roles in Django admin: audited changes, added roles, translated permission
names, the difference to the default, and no way to grant more than one holds."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import translation

from clinic import services
from clinic.errors import ClinicError
from clinic.models import AuditLog, Role
from clinic.roles import GROUP_NAMES, ROLE_PERMISSIONS, permission_label, role_difference

pytestmark = pytest.mark.django_db


def _perm(key: str) -> Permission:
    app_label, codename = key.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _group(role) -> Group:
    return Group.objects.get(name=GROUP_NAMES[role])


def test_permission_names_are_translated():
    with translation.override("zh-hans"):
        assert permission_label(_perm("appointments.view_appointment")) == "预约 · 查看预约"
        assert permission_label(_perm("clinic.reveal_contact")).endswith("查看完整手机号")
    with translation.override("en"):
        assert permission_label(_perm("appointments.add_appointment")) == "Appointments · Add appointment"


def test_hq_changes_a_role_in_admin_and_it_is_audited(hq_admin, client_for):
    group = _group(Role.FRONT_DESK)
    keep = [p.pk for p in group.permissions.exclude(codename="reveal_contact")]
    export = _perm("clinic.export_data")
    response = client_for(hq_admin).post(
        reverse("admin:auth_group_change", args=[group.pk]), {"permissions": [*keep, export.pk]}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    keys = {p.codename for p in group.permissions.all()}
    assert "reveal_contact" not in keys and "export_data" in keys
    row = AuditLog.objects.get(action="clinic.role.changed")
    assert row.changes == {
        "permissions_added": ["clinic.export_data"],
        "permissions_removed": ["clinic.reveal_contact"],
    }
    added, removed = role_difference(group)
    assert [p.codename for p in added] == ["export_data"]
    assert [p.codename for p in removed] == ["reveal_contact"]


def test_the_change_page_shows_chinese_names_and_the_difference(hq_admin, client_for):
    group = _group(Role.NURSE)
    group.permissions.remove(_perm("clinic.view_medical"))
    page = client_for(hq_admin).get(reverse("admin:auth_group_change", args=[group.pk])).content.decode()
    assert "默认权限中被移除" in page and "查看病史与过敏信息" in page
    assert "预约 · 查看预约" in page  # the permission widget
    assert "Can view" not in page
    listing = client_for(hq_admin).get(reverse("admin:auth_group_changelist")).content.decode()
    assert "增加 0 项，移除 1 项" in listing


def test_hq_adds_a_role_and_gives_it_to_staff(hq_admin, staff_factory, client_for):
    response = client_for(hq_admin).post(
        reverse("admin:auth_group_add"),
        {"name": "实习前台", "permissions": [_perm("members.view_member").pk]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    trainee = Group.objects.get(name="实习前台")
    assert AuditLog.objects.filter(action="clinic.role.created", target_id=str(trainee.pk)).exists()
    nurse = staff_factory(Role.NURSE, username="n2")
    services.staff_update(actor=hq_admin, profile=nurse.staff, extra_roles=[trainee])
    assert set(nurse.groups.all()) == {_group(Role.NURSE), trainee}
    assert AuditLog.objects.get(action="clinic.staff.changed").changes == {"extra_roles": [[], ["实习前台"]]}
    services.staff_update(actor=hq_admin, profile=nurse.staff, role=Role.DOCTOR)
    assert set(nurse.groups.all()) == {_group(Role.DOCTOR), trainee}


def test_nobody_grants_a_permission_they_do_not_hold(hq_admin, client_for):
    assert not hq_admin.has_perm("clinic.view_medical")
    with pytest.raises(ClinicError):
        services.role_save(
            actor=hq_admin, group=None, name="病历", permissions=[_perm("clinic.view_medical")]
        )
    response = client_for(hq_admin).post(
        reverse("admin:auth_group_add"), {"name": "病历", "permissions": [_perm("clinic.view_medical").pk]}
    )
    assert response.status_code == 200  # the form again, with the reason; nothing saved
    assert not Group.objects.filter(name="病历").exists()
    # ...but a built-in role may get its own default back.
    doctor = _group(Role.DOCTOR)
    doctor.permissions.remove(_perm("clinic.view_medical"))
    services.role_reset(actor=hq_admin, group=doctor)
    assert {f"{p.content_type.app_label}.{p.codename}" for p in doctor.permissions.all()} == ROLE_PERMISSIONS[
        Role.DOCTOR
    ]


def test_builtin_roles_keep_their_name_and_cannot_be_deleted(hq_admin, client_for):
    group = _group(Role.MARKETING)
    with pytest.raises(ClinicError):
        services.role_save(actor=hq_admin, group=group, name="市场部", permissions=group.permissions.all())
    with pytest.raises(ClinicError):
        services.role_delete(actor=hq_admin, group=group)
    response = client_for(hq_admin).get(reverse("admin:auth_group_delete", args=[group.pk]))
    assert response.status_code == 403
    custom = services.role_save(actor=hq_admin, group=None, name="临时", permissions=[])
    services.role_delete(actor=hq_admin, group=custom)
    assert AuditLog.objects.filter(action="clinic.role.deleted").exists()


def test_a_branch_manager_cannot_change_roles(manager, client_for):
    group = _group(Role.FRONT_DESK)
    response = client_for(manager).post(
        reverse("admin:auth_group_change", args=[group.pk]), {"permissions": []}
    )
    assert response.status_code == 403
    assert group.permissions.exists()
