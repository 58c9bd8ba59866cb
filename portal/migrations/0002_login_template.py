"""The SMS template of the log-in code (a care/service message: purpose "service", not
registered with the contact cap). HQ may edit the wording in admin."""

from django.db import migrations

TEMPLATES = [
    ("zh-hans", "会员登录验证码", "【微笑口腔】您的登录验证码是{code}，{minutes}分钟内有效。请勿告诉他人。"),
    (
        "en",
        "会员登录验证码",
        "Smile Dental: your log-in code is {code}. It is good for {minutes} minutes. Do not share it.",
    ),
]


def add_templates(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for language, name, body in TEMPLATES:
        MessageTemplate.objects.get_or_create(
            key="portal.login_code",
            channel="sms",
            language=language,
            defaults={"name": name, "body": body},
        )


def remove_templates(apps, schema_editor):
    apps.get_model("notifications", "MessageTemplate").objects.filter(key="portal.login_code").delete()


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial"), ("notifications", "0002_roles")]

    operations = [migrations.RunPython(add_templates, remove_templates)]
