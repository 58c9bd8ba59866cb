"""Grant the coupon permissions to the roles (clinic/roles.py, docs/permissions.md)."""

import importlib

from django.db import migrations

_roles = importlib.import_module("loyalty.migrations.0002_programme_and_roles")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0003_coupons")]

    operations = [migrations.RunPython(_roles.grant_roles, migrations.RunPython.noop)]
