"""The 登记好评/问卷 permission (``loyalty.record_review``), granted to the roles
(clinic/roles.py, docs/permissions.md)."""

import importlib

from django.db import migrations

_roles = importlib.import_module("loyalty.migrations.0002_programme_and_roles")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0006_referrals")]

    operations = [
        migrations.AlterModelOptions(
            name="coupon",
            options={
                "default_permissions": ("view",),
                "ordering": ["-issued_at", "-id"],
                "permissions": [
                    ("issue_coupon", "Issue a coupon to a member"),
                    ("record_review", "Record a completed review or survey (gives its reward)"),
                ],
                "verbose_name": "coupon",
                "verbose_name_plural": "coupons",
            },
        ),
        migrations.RunPython(_roles.grant_roles, migrations.RunPython.noop),
    ]
