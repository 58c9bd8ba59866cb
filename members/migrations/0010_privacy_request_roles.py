from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_roles(apps, schema_editor):
    """The privacy-request permissions to the roles (clinic/roles.py, docs/permissions.md):
    made here because the post-migrate role sync runs before Django makes them."""
    from clinic.roles import sync_roles

    app_config = apps.get_app_config("members")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("members", "0009_privacy_requests")]

    operations = [migrations.RunPython(grant_roles, migrations.RunPython.noop)]
