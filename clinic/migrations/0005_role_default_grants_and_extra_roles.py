"""Roles become editable in admin: the record of applied defaults, and additional roles.

Until now the post-migrate sync forced every group to exactly ROLE_PERMISSIONS, so each
group's defaults are recorded as applied here; from now on only new defaults are applied and
an admin's change stands (clinic/roles.py ``sync_roles``).
"""

import django.db.models.deletion
from django.db import migrations, models


def record_applied_defaults(apps, schema_editor):
    from clinic.roles import GROUP_NAMES, ROLE_PERMISSIONS

    Group = apps.get_model("auth", "Group")
    Grant = apps.get_model("clinic", "RoleDefaultGrant")
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.filter(name=GROUP_NAMES[role]).first()
        if group is None:
            continue
        Grant.objects.bulk_create(
            [
                Grant(group=group, permission=perm)
                for perm in group.permissions.select_related("content_type")
                if f"{perm.content_type.app_label}.{perm.codename}" in perms
            ],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("clinic", "0004_audit_branch_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="staffprofile",
            name="extra_roles",
            field=models.ManyToManyField(
                blank=True,
                help_text="Roles HQ added in admin, or a second job: their permissions add to those of the role.",
                related_name="+",
                to="auth.group",
                verbose_name="additional roles",
            ),
        ),
        migrations.CreateModel(
            name="RoleDefaultGrant",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("applied_at", models.DateTimeField(auto_now_add=True, verbose_name="applied at")),
                (
                    "group",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="default_grants",
                        to="auth.group",
                        verbose_name="role",
                    ),
                ),
                (
                    "permission",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="auth.permission",
                        verbose_name="permission",
                    ),
                ),
            ],
            options={
                "verbose_name": "applied default permission",
                "verbose_name_plural": "applied default permissions",
                "default_permissions": (),
                "constraints": [
                    models.UniqueConstraint(fields=("group", "permission"), name="role_default_grant_unique")
                ],
            },
        ),
        migrations.RunPython(record_applied_defaults, migrations.RunPython.noop),
    ]
