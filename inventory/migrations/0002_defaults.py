"""The stock keeper's daily alert e-mail (zh-hans and en). The roles' new permissions are
applied by the post-migrate role sync (clinic.roles)."""

from django.db import migrations

TEMPLATES = [
    (
        "inventory.stock_alert",
        "email",
        "zh-hans",
        "库存提醒",
        "{name}您好，{branch}{date}的库存提醒：近效期批次{expiring_count}个：{expiring}。"
        "低于补货线的物品{low_count}种：{low}。请在库存页面处理。",
    ),
    (
        "inventory.stock_alert",
        "email",
        "en",
        "Stock alert",
        "Dear {name}, stock alert of {branch} on {date}: {expiring_count} batches near expiry: {expiring}. "
        "{low_count} items below their reorder level: {low}. See the stock list.",
    ),
]


def add_templates(apps, schema_editor):
    """The message template (tests put it back after a flush with this)."""
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for key, channel, language, name, body in TEMPLATES:
        MessageTemplate.objects.get_or_create(
            key=key,
            channel=channel,
            language=language,
            defaults={"name": "库存提醒", "body": body, "subject": name},
        )


def backwards(apps, schema_editor):
    apps.get_model("notifications", "MessageTemplate").objects.filter(key__startswith="inventory.").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_initial"),
        ("notifications", "0003_contact_cap"),
    ]

    operations = [migrations.RunPython(add_templates, backwards)]
