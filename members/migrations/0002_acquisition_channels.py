from django.db import migrations

# The channels a Chinese dental clinic meets every day; HQ edits the list in admin.
CHANNELS = [
    ("dianping", "大众点评"),
    ("meituan", "美团"),
    ("douyin", "抖音"),
    ("xiaohongshu", "小红书"),
    ("baidu", "百度"),
    ("referral", "朋友介绍"),
    ("street", "地推"),
    ("corporate", "企业团检"),
    ("walk_in", "路过"),
    ("wechat", "微信公众号"),
    ("partner", "转诊单位"),
    ("other", "其他"),
]


def add_channels(apps, schema_editor):
    Channel = apps.get_model("members", "AcquisitionChannel")
    for order, (code, name) in enumerate(CHANNELS, start=1):
        Channel.objects.get_or_create(code=code, defaults={"name": name, "sort_order": order * 10})


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]

    operations = [migrations.RunPython(add_channels, migrations.RunPython.noop)]
