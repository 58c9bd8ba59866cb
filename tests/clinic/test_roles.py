"""The default roles in clinic/roles.py and in docs/permissions.md are one table, and a fresh
database starts with exactly it; HQ's later changes in admin survive every ``migrate``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission

from clinic.models import Role, RoleDefaultGrant
from clinic.roles import GROUP_NAMES, ROLE_PERMISSIONS, sync_roles

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


def parse_doc_table() -> dict[str, set[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- roles:begin -->")[1].split("<!-- roles:end -->")[0]
    lines = [line for line in block.strip().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    roles = [re.search(r"`(\w+)`", cell).group(1) for cell in header[2:]]
    table: dict[str, set[str]] = {role: set() for role in roles}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        perm = cells[0].strip("`")
        for role, mark in zip(roles, cells[2:], strict=True):
            if mark == "✓":
                table[role].add(perm)
    return table


def test_doc_table_matches_code():
    assert parse_doc_table() == {str(role): perms for role, perms in ROLE_PERMISSIONS.items()}


@pytest.mark.django_db
def test_the_built_in_roles_exist_after_migrate_with_exactly_their_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= set(GROUP_NAMES.values())
    assert len(GROUP_NAMES) == 10 == len(Role)
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=GROUP_NAMES[role])
        in_db = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert in_db == perms, role
        recorded = {
            f"{g.permission.content_type.app_label}.{g.permission.codename}"
            for g in RoleDefaultGrant.objects.filter(group=group).select_related("permission__content_type")
        }
        assert recorded == perms, role


@pytest.mark.django_db
def test_every_permission_in_the_table_exists():
    existing = {
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")
    }
    wanted = {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    assert wanted <= existing, wanted - existing


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_each_role_user_has_the_documented_permissions(role, staff_factory):
    user = staff_factory(role)
    doc = parse_doc_table()[str(role)]
    for perm in {p for perms in ROLE_PERMISSIONS.values() for p in perms}:
        assert user.has_perm(perm) == (perm in doc), (role, perm)
    assert user.is_staff == (role in {Role.BRANCH_MANAGER, Role.HQ_ADMIN})


@pytest.mark.django_db
def test_sync_roles_rebuilds_an_emptied_permission_table():
    Permission.objects.all().delete()
    Group.objects.all().delete()
    sync_roles()
    group = Group.objects.get(name=GROUP_NAMES[Role.FRONT_DESK])
    assert group.permissions.filter(codename="view_serviceitem").exists()


def _perm(key: str) -> Permission:
    app_label, codename = key.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _keys(group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }


@pytest.mark.django_db
def test_a_later_migrate_keeps_what_hq_changed_in_a_role():
    from django.core.management import call_command

    group = Group.objects.get(name=GROUP_NAMES[Role.FRONT_DESK])
    group.permissions.remove(_perm("clinic.reveal_contact"))
    group.permissions.add(_perm("clinic.export_data"))
    call_command("migrate", verbosity=0)  # runs the post-migrate role sync
    keys = _keys(group)
    assert "clinic.reveal_contact" not in keys
    assert "clinic.export_data" in keys


@pytest.mark.django_db
def test_a_default_a_release_adds_reaches_the_role_once(monkeypatch):
    group = Group.objects.get(name=GROUP_NAMES[Role.NURSE])
    extended = {**ROLE_PERMISSIONS, Role.NURSE: ROLE_PERMISSIONS[Role.NURSE] | {"clinic.export_data"}}
    monkeypatch.setattr("clinic.roles.ROLE_PERMISSIONS", extended)
    sync_roles()
    assert "clinic.export_data" in _keys(group)
    group.permissions.remove(_perm("clinic.export_data"))  # HQ takes it away again
    sync_roles()
    assert "clinic.export_data" not in _keys(group)


@pytest.mark.django_db
def test_a_default_a_release_drops_is_taken_back_but_a_grant_by_hand_stays(monkeypatch):
    group = Group.objects.get(name=GROUP_NAMES[Role.DOCTOR])
    group.permissions.add(_perm("clinic.export_data"))  # granted by HQ, not a default
    reduced = {**ROLE_PERMISSIONS, Role.DOCTOR: ROLE_PERMISSIONS[Role.DOCTOR] - {"clinic.view_medical"}}
    monkeypatch.setattr("clinic.roles.ROLE_PERMISSIONS", reduced)
    sync_roles()
    keys = _keys(group)
    assert "clinic.view_medical" not in keys
    assert "clinic.export_data" in keys
    assert not RoleDefaultGrant.objects.filter(group=group, permission__codename="view_medical").exists()


@pytest.mark.django_db
def test_a_deleted_builtin_group_comes_back_with_its_defaults():
    Group.objects.filter(name=GROUP_NAMES[Role.MARKETING]).delete()
    sync_roles()
    group = Group.objects.get(name=GROUP_NAMES[Role.MARKETING])
    assert _keys(group) == ROLE_PERMISSIONS[Role.MARKETING]


@pytest.mark.django_db
def test_a_sync_without_the_record_table_takes_nothing_away():
    """The state of an older migration (or a database migrated back to clinic 0004) has no
    record table: the sync then only adds missing defaults."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    state_apps = MigrationLoader(connection).project_state(("clinic", "0004_audit_branch_index")).apps
    group = Group.objects.get(name=GROUP_NAMES[Role.FRONT_DESK])
    group.permissions.add(_perm("clinic.export_data"))
    group.permissions.remove(_perm("clinic.reveal_contact"))
    sync_roles(state_apps)
    keys = _keys(group)
    assert {"clinic.export_data", "clinic.reveal_contact"} <= keys
