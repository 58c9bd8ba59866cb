"""The roles in the database, in clinic/roles.py and in docs/permissions.md are one table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission

from clinic.models import Role
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
def test_the_eight_roles_exist_after_migrate_with_exactly_their_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= set(GROUP_NAMES.values())
    assert len(GROUP_NAMES) == 8 == len(Role)
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=GROUP_NAMES[role])
        in_db = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert in_db == perms, role


@pytest.mark.django_db
def test_every_permission_in_the_table_exists():
    existing = {
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")
    }
    wanted = {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    assert wanted <= existing, wanted - existing


@pytest.mark.django_db
def test_sync_roles_repairs_a_tampered_group():
    group = Group.objects.get(name=GROUP_NAMES[Role.FRONT_DESK])
    group.permissions.add(Permission.objects.get(codename="view_all_branches"))
    sync_roles()
    assert not group.permissions.filter(codename="view_all_branches").exists()


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
