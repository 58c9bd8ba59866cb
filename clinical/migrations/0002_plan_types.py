from django.db import migrations

PLAN_TYPES = [
    ("general", "综合治疗", "General treatment", False, 10),
    ("implant", "种植", "Implants", True, 20),
    ("ortho", "正畸", "Orthodontics", True, 30),
    ("prosth", "修复", "Prosthetics", False, 40),
]


def forwards(apps, schema_editor):
    PlanType = apps.get_model("clinical", "PlanType")
    for code, name, name_en, review, order in PLAN_TYPES:
        PlanType.objects.get_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "needs_review": review, "sort_order": order},
        )
    ReviewSettings = apps.get_model("clinical", "ReviewSettings")
    if not ReviewSettings.objects.exists():
        row = ReviewSettings.objects.create(threshold=20000)
        Category = apps.get_model("clinic", "ServiceCategory")
        row.categories.set(Category.objects.filter(code__in=["IMPL", "ORTH"]))


class Migration(migrations.Migration):
    dependencies = [("clinical", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
