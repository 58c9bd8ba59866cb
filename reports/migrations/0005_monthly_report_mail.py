"""The e-mail of the monthly management report (reports/month_mail.py), in both languages."""

from django.db import migrations

TEMPLATES = [
    (
        "zh-hans",
        "月度经营报告",
        "{branch} {month} 月度经营报告",
        "{branch} {month} 已月结，主要指标：\n{figures}\n\n完整报告（PDF，需登录）：{link}\n\n本邮件由口腔会员管理系统在每月 1 日自动发送。",
    ),
    (
        "en",
        "Monthly management report",
        "{branch}: management report for {month}",
        "{month} is closed at {branch}. Key figures:\n{figures}\n\nThe full report (PDF, log-in needed): {link}\n\nSent on the 1st of every month by the clinic CRM.",
    ),
]


def add_templates(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for language, name, subject, body in TEMPLATES:
        MessageTemplate.objects.get_or_create(
            key="reports.monthly_report",
            channel="email",
            language=language,
            defaults={"name": name, "subject": subject, "body": body},
        )


def remove_templates(apps, schema_editor):
    apps.get_model("notifications", "MessageTemplate").objects.filter(key="reports.monthly_report").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0004_month_close_exports_staff"),
        ("notifications", "0004_delivery_reports_and_replies"),
    ]

    operations = [migrations.RunPython(add_templates, remove_templates)]
