from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_roles(apps, schema_editor):
    """The dashboard permission to the roles (clinic/roles.py, docs/permissions.md)."""
    from clinic.roles import sync_roles

    app_config = apps.get_app_config("reports")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_rollups"),
        ("appointments", "0004_verbose_names"),
        ("followups", "0004_verbose_names"),
        ("loyalty", "0014_purchase_member_verbose_name"),
        ("marketing", "0004_verbose_names"),
        ("members", "0007_import_profile_created_by_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="dailyrollup",
            options={
                "default_permissions": (),
                "permissions": [
                    (
                        "view_branch_dashboard",
                        "See the branch dashboard: KPIs, charts and the lists behind them",
                    )
                ],
                "verbose_name": "daily rollup",
                "verbose_name_plural": "daily rollups",
            },
        ),
        migrations.RunPython(grant_roles, migrations.RunPython.noop),
    ]
