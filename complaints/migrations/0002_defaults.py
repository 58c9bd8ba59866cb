"""The default clocks (seed 001: acknowledge within 1 working day, propose within 3), the
escalation e-mail, and the roles' new permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SLA = [("normal", 1, 3), ("serious", 1, 3), ("medical", 1, 3)]

TEMPLATES = [
    (
        "complaints.escalated",
        "email",
        "zh-hans",
        "投诉已上报",
        "{name}您好，{branch}的投诉{number}（{subject}）已上报给您：{level}。请在投诉工作台处理。",
    ),
    (
        "complaints.escalated",
        "email",
        "en",
        "Complaint escalated",
        "Dear {name}, complaint {number} ({subject}) of {branch} is escalated to you: {level}. See the complaints list.",
    ),
]


def add_defaults(apps, schema_editor):
    """The clocks and the message template (tests put them back after a flush with this)."""
    SlaPolicy = apps.get_model("complaints", "SlaPolicy")
    for severity, ack, proposal in SLA:
        SlaPolicy.objects.get_or_create(
            severity=severity, defaults={"ack_working_days": ack, "proposal_working_days": proposal}
        )
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    zh = {key: name for key, _c, lang, name, _b in TEMPLATES if lang == "zh-hans"}
    for key, channel, language, name, body in TEMPLATES:
        MessageTemplate.objects.get_or_create(
            key=key,
            channel=channel,
            language=language,
            defaults={"name": zh[key], "body": body, "subject": name},
        )


def forwards(apps, schema_editor):
    """The defaults, then every app's permissions as post_migrate would make them (this runs
    after the other apps' latest migrations, see dependencies), then the role table."""
    from clinic.roles import sync_roles

    add_defaults(apps, schema_editor)
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


def backwards(apps, schema_editor):
    apps.get_model("notifications", "MessageTemplate").objects.filter(key__startswith="complaints.").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0001_initial"),
        ("notifications", "0002_roles"),
        # Last, so that the role sync below sees every app's permissions.
        ("followups", "0004_verbose_names"),
        ("reports", "0002_dashboard_permission"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
