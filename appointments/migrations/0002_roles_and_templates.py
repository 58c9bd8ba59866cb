from django.contrib.auth.management import create_permissions
from django.db import migrations

# The SMS texts of the booking messages. Providers send only pre-approved templates: HQ fills
# in the provider's template ids in admin; the body is our copy (file/console backends).
TEMPLATES = [
    (
        "appointments.reminder",
        "zh-hans",
        "预约提醒",
        "{name}您好，您预约了{start}在{branch}由{doctor}医生为您{service}，请准时到店。如需改约请致电{phone}。",
    ),
    (
        "appointments.reminder",
        "en",
        "Appointment reminder",
        "Dear {name}, your appointment for {service} with Dr {doctor} at {branch} is at {start}. To change it, call {phone}.",
    ),
    (
        "appointments.moved",
        "zh-hans",
        "预约改期",
        "{name}您好，您的预约已改为{start}，{branch}，{doctor}医生，项目：{service}。如有疑问请致电{phone}。",
    ),
    (
        "appointments.moved",
        "en",
        "Appointment moved",
        "Dear {name}, your appointment is now at {start} with Dr {doctor} at {branch} ({service}). Questions: {phone}.",
    ),
    (
        "appointments.cancelled",
        "zh-hans",
        "预约取消",
        "{name}您好，您{start}在{branch}的预约已取消。如需重新预约请致电{phone}。",
    ),
    (
        "appointments.cancelled",
        "en",
        "Appointment cancelled",
        "Dear {name}, your appointment at {branch} on {start} is cancelled. To book again, call {phone}.",
    ),
]


def forwards(apps, schema_editor):
    from clinic.roles import sync_roles

    app_config = apps.get_app_config("appointments")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    sync_roles(apps)
    add_templates(apps, schema_editor)


def add_templates(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for key, language, name, body in TEMPLATES:
        MessageTemplate.objects.get_or_create(
            key=key, channel="sms", language=language, defaults={"name": name, "body": body}
        )


def backwards(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    MessageTemplate.objects.filter(key__startswith="appointments.").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0001_initial"),
        ("notifications", "0002_roles"),
        ("clinic", "0003_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
