from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_roles(apps, schema_editor):
    """The segment, broadcast and contact-cap permissions to the roles (clinic/roles.py,
    docs/permissions.md): the permissions are made here, in the migration, because the
    post-migrate role sync runs (after clinic) before Django makes a later app's permissions."""
    from clinic.roles import sync_roles

    for label in ("marketing", "notifications"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0007_broadcasts"),
        ("notifications", "0003_contact_cap"),
        ("clinic", "0005_role_default_grants_and_extra_roles"),
    ]

    operations = [migrations.RunPython(grant_roles, migrations.RunPython.noop)]
