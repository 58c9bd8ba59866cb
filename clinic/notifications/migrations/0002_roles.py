from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_roles(apps, schema_editor):
    from clinic.roles import sync_roles

    # Permissions are normally created after the last migration; the role groups need the
    # outbox and template permissions now (see clinic/roles.py, docs/permissions.md).
    app_config = apps.get_app_config("notifications")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("clinic", "0003_roles"),
    ]

    operations = [migrations.RunPython(grant_roles, migrations.RunPython.noop)]
