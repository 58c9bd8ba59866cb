"""Every write in the clinic layer. Each service owns its transaction and writes its audit row
inside it, so the change and its record commit or roll back together."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import ClinicError
from .models import AuditLog, Branch, JobHeartbeat, Role, StaffProfile
from .roles import (
    ADMIN_SITE_ROLES,
    GROUP_NAMES,
    default_permissions,
    permission_key,
    sync_roles,
)

User = get_user_model()

# Fields never copied into an audit row, whatever the model.
_SECRET_FIELDS = frozenset({"password"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, (Decimal, dt.date, dt.time, dt.datetime)):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return value


def _actor_name(actor) -> str:
    if actor is None:
        return "system"
    profile = getattr(actor, "staff", None) if hasattr(actor, "pk") else None
    try:
        return profile.full_name if profile else actor.get_username()
    except StaffProfile.DoesNotExist:
        return actor.get_username()


def audit_record(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    branch: Branch | None = None,
    ip_address: str | None = None,
) -> AuditLog:
    """Write one audit row in the caller's transaction.

    Must be called inside ``transaction.atomic()``: an audit row that could commit without
    its change (or the change without it) is exactly what this log exists to prevent.
    ``changes`` maps a field to ``[old, new]`` (or any JSON value for reads and events).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record() must run inside the transaction of the change it records")
    if branch is None and target is not None:
        branch = getattr(target, "branch", None) if not isinstance(target, Branch) else target
        if branch is not None and not isinstance(branch, Branch):
            branch = None
    clean = {k: _jsonable(v) for k, v in (changes or {}).items() if k not in _SECRET_FIELDS}
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=_actor_name(actor)[:150],
        action=action,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None and target.pk is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        branch=branch,
        changes=clean,
        ip_address=ip_address,
    )


def _field_values(instance: models.Model) -> dict[str, Any]:
    return {
        f.attname: getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if f.attname not in _SECRET_FIELDS
    }


def _require_model_perm(actor, model, action: str) -> None:
    if actor is None:
        return
    opts = model._meta
    if not actor.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
        raise ClinicError(
            _("Your role may not change %(model)s.") % {"model": opts.verbose_name}, code="forbidden"
        )


@transaction.atomic
def record_save(*, actor, instance: models.Model, action: str | None = None) -> models.Model:
    """Save a configuration record (branch, catalog item, opening hours…) edited in admin,
    with an audit row of exactly which fields changed from what to what.

    The actor needs the model's add or change permission (``actor=None`` is the system:
    migrations, seed_demo), so a price, a discount or a points rule is never changed by a
    caller that only the form or the admin page stood guard over; ``full_clean()`` applies
    the model's bounds (validators and ``clean()``)."""
    model = type(instance)
    before = {}
    if instance.pk is not None:
        old = model._default_manager.select_for_update().filter(pk=instance.pk).first()
        before = _field_values(old) if old else {}
    creating = not before
    _require_model_perm(actor, model, "add" if creating else "change")
    instance.full_clean()
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise ClinicError(
            _("This record conflicts with an existing one: %(detail)s") % {"detail": exc}
        ) from exc
    after = _field_values(instance)
    changes = {k: [before.get(k), v] for k, v in after.items() if creating or before.get(k) != v}
    if changes:
        label = model._meta.label_lower
        audit_record(
            actor=actor,
            action=action or f"{label}.{'created' if creating else 'changed'}",
            target=instance,
            changes=changes,
        )
    return instance


@transaction.atomic
def record_delete(*, actor, instance: models.Model) -> None:
    """Delete a configuration record with an audit row of what it held (the actor needs
    the model's delete permission)."""
    _require_model_perm(actor, type(instance), "delete")
    snapshot = _field_values(instance)
    audit_record(
        actor=actor,
        action=f"{instance._meta.label_lower}.deleted",
        target=instance,
        changes=snapshot,
    )
    instance.delete()


def _sync_user_for_role(user, role: str, extra_roles: Iterable[Group] | None = None) -> None:
    group = Group.objects.filter(name=GROUP_NAMES[role]).first()
    if group is None:
        # A deleted role group (or a flushed test database) is rebuilt from the role table.
        sync_roles()
        group = Group.objects.get(name=GROUP_NAMES[role])
    if extra_roles is None:
        extra_roles = user.staff.extra_roles.all() if hasattr(user, "staff") else []
    user.groups.set([group, *extra_roles])
    is_staff = role in ADMIN_SITE_ROLES
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


@transaction.atomic
def staff_profile_create(
    *,
    actor,
    user,
    full_name: str,
    role: str,
    branches: Iterable[Branch],
    job_title: str = "",
    extra_roles: Iterable[Group] = (),
) -> StaffProfile:
    """Give an existing login its staff profile, put it in its role's group (and any
    additional roles' groups), audit it."""
    if role not in Role.values:
        raise ClinicError(_("Unknown role: %(role)s") % {"role": role})
    branches = list(branches)
    if not branches:
        raise ClinicError(_("A staff member works at one branch at least."), field="branches")
    if StaffProfile.objects.filter(user=user).exists():
        raise ClinicError(_("This login already has a staff profile."), field="user")
    profile = StaffProfile.objects.create(
        user=user, full_name=full_name, role=role, job_title=job_title, default_branch=branches[0]
    )
    profile.branches.set(branches)
    extra_roles = list(extra_roles)
    profile.extra_roles.set(extra_roles)
    _sync_user_for_role(user, role, extra_roles)
    changes = {"username": user.get_username(), "role": role, "branches": [b.code for b in branches]}
    if extra_roles:
        changes["extra_roles"] = sorted(g.name for g in extra_roles)
    audit_record(
        actor=actor, action="clinic.staff.created", target=profile, branch=branches[0], changes=changes
    )
    return profile


@transaction.atomic
def staff_create(
    *,
    actor,
    username: str,
    password: str | None,
    full_name: str,
    role: str,
    branches: Iterable[Branch],
    job_title: str = "",
    email: str = "",
) -> StaffProfile:
    """Create a login together with its staff profile."""
    if User.objects.filter(username__iexact=username).exists():
        raise ClinicError(_("The username %(username)s is taken.") % {"username": username}, field="username")
    user = User(username=username, email=email, first_name=full_name[:150])
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return staff_profile_create(
        actor=actor,
        user=user,
        full_name=full_name,
        role=role,
        branches=branches,
        job_title=job_title,
    )


@transaction.atomic
def staff_update(
    *,
    actor,
    profile: StaffProfile,
    role: str | None = None,
    branches: Iterable[Branch] | None = None,
    job_title: str | None = None,
    full_name: str | None = None,
    is_active: bool | None = None,
    extra_roles: Iterable[Group] | None = None,
) -> StaffProfile:
    """Change a staff member's role, additional roles, branches, title or active flag. Role
    and branch changes are permission changes, so each lands in the audit log with its old
    and new value."""
    profile = StaffProfile.objects.select_for_update().get(pk=profile.pk)
    user = profile.user
    changes: dict[str, list[Any]] = {}
    roles_changed = False
    if role is not None and role != profile.role:
        if role not in Role.values:
            raise ClinicError(_("Unknown role: %(role)s") % {"role": role})
        changes["role"] = [profile.role, role]
        profile.role = role
        roles_changed = True
    if extra_roles is not None:
        extra_roles = list(extra_roles)
        new = sorted(g.name for g in extra_roles)
        old = sorted(profile.extra_roles.values_list("name", flat=True))
        if new != old:
            changes["extra_roles"] = [old, new]
            profile.extra_roles.set(extra_roles)
            roles_changed = True
    if roles_changed:
        _sync_user_for_role(user, profile.role, profile.extra_roles.all())
    if branches is not None:
        new = sorted(b.code for b in branches)
        old = sorted(profile.branches.values_list("code", flat=True))
        if not new:
            raise ClinicError(_("A staff member works at one branch at least."), field="branches")
        if new != old:
            changes["branches"] = [old, new]
            profile.branches.set(branches)
            if profile.default_branch and profile.default_branch.code not in new:
                profile.default_branch = next(iter(branches))
    for attr, value in (("job_title", job_title), ("full_name", full_name)):
        if value is not None and value != getattr(profile, attr):
            changes[attr] = [getattr(profile, attr), value]
            setattr(profile, attr, value)
    if is_active is not None and is_active != user.is_active:
        changes["is_active"] = [user.is_active, is_active]
        user.is_active = is_active
        user.save(update_fields=["is_active"])
    if changes:
        profile.save()
        audit_record(actor=actor, action="clinic.staff.changed", target=profile, changes=changes)
    return profile


# --- roles (Django groups), configured by HQ in admin -------------------------------------------


def _grantable_keys(actor) -> set[str] | None:
    """What ``actor`` may put into a role: the permissions they hold (None: any, superuser).
    So nobody raises their own rights, or anyone's beyond their own, through a role."""
    if actor is None or actor.is_superuser:
        return None
    return set(actor.get_all_permissions())


def role_check(*, actor, group: Group | None, name: str, permissions: Iterable[Permission]) -> None:
    """Raise ``ClinicError`` unless ``actor`` may give role ``group`` (None: a new role) this
    name and these permissions. The built-in roles keep their names (the code finds
    each by it, clinic/roles.py). A permission may be added only if the actor holds it, or it
    is the role's own default. Forms call it to show the reason next to the field."""
    name = (name or "").strip()
    if not name:
        raise ClinicError(_("Give the role a name."), field="name")
    if group is not None and name != group.name and default_permissions(group) is not None:
        raise ClinicError(_("The name of a built-in role cannot change."), field="name")
    if Group.objects.filter(name=name).exclude(pk=getattr(group, "pk", None)).exists():
        raise ClinicError(_("A role named %(name)s exists already.") % {"name": name}, field="name")
    grantable = _grantable_keys(actor)
    if grantable is None:
        return
    before = {permission_key(p) for p in group.permissions.select_related("content_type")} if group else set()
    own_defaults = (default_permissions(group) if group else None) or set()
    wanted = Permission.objects.filter(pk__in=[p.pk for p in permissions]).select_related("content_type")
    refused = sorted(
        k for k in (permission_key(p) for p in wanted) if k not in before | grantable | own_defaults
    )
    if refused:
        raise ClinicError(
            _("You cannot grant permissions you do not hold yourself: %(perms)s")
            % {"perms": ", ".join(refused)},
            field="permissions",
        )


@transaction.atomic
def role_save(*, actor, group: Group | None, name: str, permissions: Iterable[Permission]) -> Group:
    """Create a role (``group`` None) or change a role's name and permissions, as
    ``role_check`` allows. Audited with the permissions added and removed; a later
    ``migrate`` keeps the change (``sync_roles``)."""
    permissions = list(permissions)
    if group is not None:
        group = Group.objects.select_for_update().get(pk=group.pk)
    role_check(actor=actor, group=group, name=name, permissions=permissions)
    name = name.strip()
    creating = group is None
    if creating:
        group = Group.objects.create(name=name)
        before: set[Permission] = set()
    else:
        before = set(group.permissions.select_related("content_type"))
    after = set(Permission.objects.filter(pk__in=[p.pk for p in permissions]).select_related("content_type"))
    added = sorted(permission_key(p) for p in after - before)
    removed = sorted(permission_key(p) for p in before - after)
    changes: dict[str, Any] = {}
    if name != group.name:
        changes["name"] = [group.name, name]
        group.name = name
        group.save(update_fields=["name"])
    if added or removed:
        group.permissions.set(after)
        changes["permissions_added"] = added
        changes["permissions_removed"] = removed
    if creating or changes:
        audit_record(
            actor=actor,
            action="clinic.role.created" if creating else "clinic.role.changed",
            target=group,
            changes=changes,
        )
    return group


@transaction.atomic
def role_reset(*, actor, group: Group) -> Group:
    """Give a built-in role exactly its default permissions again (clinic/roles.py)."""
    defaults = default_permissions(group)
    if defaults is None:
        raise ClinicError(_("%(name)s is a role added in admin: it has no default.") % {"name": group.name})
    perms = [
        p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in={k.split(".", 1)[1] for k in defaults}
        )
        if permission_key(p) in defaults
    ]
    return role_save(actor=actor, group=group, name=group.name, permissions=perms)


@transaction.atomic
def role_delete(*, actor, group: Group) -> None:
    """Delete a role HQ added. The built-in roles cannot be deleted: staff profiles and
    the code rely on them."""
    if default_permissions(group) is not None:
        raise ClinicError(_("A built-in role cannot be deleted."))
    audit_record(
        actor=actor,
        action="clinic.role.deleted",
        target=group,
        changes={
            "name": group.name,
            "permissions": sorted(
                permission_key(p) for p in group.permissions.select_related("content_type")
            ),
            "staff": sorted(group.user_set.values_list("username", flat=True)),
        },
    )
    # Staff who had it as an additional role lose it with the group (the M2M rows cascade).
    group.delete()


def heartbeat_record(*, name: str, at: dt.datetime | None = None) -> JobHeartbeat:
    """Note that periodic job ``name`` ran. A single upsert, so concurrent beats never clash."""
    at = at or timezone.now()
    with transaction.atomic():
        updated = JobHeartbeat.objects.filter(name=name).update(last_run_at=at, runs=F("runs") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    JobHeartbeat.objects.create(name=name, last_run_at=at, runs=1)
            except IntegrityError:
                JobHeartbeat.objects.filter(name=name).update(last_run_at=at, runs=F("runs") + 1)
    return JobHeartbeat.objects.get(name=name)
