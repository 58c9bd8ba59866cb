"""Issue 11 item 19: staff read labels, never stored codes. Every audit action code, job name
and message template key used in the source has a label in Chinese and English
(clinic/labels.py, filled by each app's labels.py), and the screens that list them show it."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import importlib.util
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone, translation

from clinic.labels import audit_actions, job_names, message_templates
from clinic.models import AuditLog, JobHeartbeat
from clinic.roles import permission_label

ROOT = Path(settings.BASE_DIR)
APPS = ("clinic", "members", "loyalty", "appointments", "marketing", "followups", "notifications", "reports")
SOURCE_DIRS = ["clinic", "members", "loyalty", "appointments", "marketing", "followups", "reports"]
# Any Latin word of two letters or more is English (or a code) on a Chinese screen.
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
ACTION_CODE = re.compile(r"^(?:{})\.[a-z_]+\.[a-z_]+$".format("|".join(APPS)))


def _sources():
    for top in SOURCE_DIRS:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            yield path, ast.parse(path.read_text(), filename=str(path))


def _is_module_path(code: str) -> bool:
    """``loyalty.tasks.points_expire`` is a task path, not an audit action."""
    head = code.rsplit(".", 1)[0]
    try:
        return importlib.util.find_spec(head) is not None
    except ModuleNotFoundError:
        return False


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _source_action_codes() -> tuple[set[str], list[str]]:
    codes, dynamic = set(), []
    for path, tree in _sources():
        for node in ast.walk(tree):
            literal = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if literal and ACTION_CODE.match(node.value) and not _is_module_path(node.value):
                codes.add(node.value)
            if isinstance(node, ast.Call) and _call_name(node) == "audit_record":
                # An action named like a module (followups.recall.kept) is still an action.
                codes.update(
                    v
                    for kw in node.keywords
                    if kw.arg == "action"
                    for v in _values(kw.value)
                    if isinstance(v, str)
                )
                for kw in node.keywords:
                    if kw.arg == "action" and any(isinstance(n, ast.JoinedStr) for n in ast.walk(kw.value)):
                        dynamic.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return codes, dynamic


def test_every_audit_action_code_in_the_source_has_a_label():
    codes, dynamic = _source_action_codes()
    assert len(codes) > 60  # the scan finds the codes (a broken scan must not pass)
    assert "loyalty.points.redeemed" in codes and "members.member.phone_revealed" in codes
    assert sorted(c for c in codes if c not in audit_actions) == []
    # Built codes hide from the scan: write them as literals (a dict of codes) instead. The
    # only built ones are the configuration saves, labelled by rule from the model's name.
    assert all(d.startswith("clinic/services.py:") for d in dynamic), dynamic


def _values(node) -> list:
    """The constants an expression can evaluate to: ``"a" if x == "y" else "b"`` → a, b."""
    if isinstance(node, ast.Constant):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _values(node.body) + _values(node.orelse)
    return []


def test_every_job_name_and_template_key_in_the_source_has_a_label():
    jobs, templates = set(), set()
    for _path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                values = _values(kw.value)
                if kw.arg == "name" and _call_name(node) == "heartbeat_record":
                    jobs.update(values)
                if kw.arg == "template_key":
                    templates.update(v for v in values if isinstance(v, str))
            if _call_name(node) == "_notify_tier" and isinstance(node.args[1], ast.Constant):
                templates.add(node.args[1].value)
    from loyalty.services.ledger_jobs import _DRIFT_TEMPLATES

    templates.update(_DRIFT_TEMPLATES.values())
    assert {"loyalty.points_expire", "appointments.send_reminders", "clinic.heartbeat"} <= jobs
    assert {"appointments.reminder", "loyalty.welcome", "loyalty.ledger_drift"} <= templates
    assert sorted(j for j in jobs if j not in job_names) == []
    assert sorted(t for t in templates if t not in message_templates) == []


@pytest.mark.django_db
def test_every_seeded_message_template_has_a_label():
    from django.apps import apps

    from clinic.notifications.demo import seed_notifications
    from clinic.notifications.models import MessageTemplate

    # The programme the migrations seed, and the demo's (a flushed test database may lack them).
    for module, fn in [
        ("appointments.migrations.0002_roles_and_templates", "add_templates"),
        ("loyalty.migrations.0002_programme_and_roles", "seed"),
        ("loyalty.migrations.0006_referrals", "_templates"),
        ("loyalty.migrations.0009_stored_value", "_templates"),
        ("marketing.migrations.0002_consultations", "add_templates"),
        ("marketing.migrations.0005_campaigns", "add_templates"),
        ("followups.migrations.0002_plans", "add_templates"),
    ]:
        getattr(importlib.import_module(module), fn)(apps, None)
    seed_notifications(branches={})
    from followups.recall_seed import seed as seed_followups

    seed_followups(apps)

    keys = set(MessageTemplate.objects.values_list("key", flat=True))
    assert "appointments.reminder" in keys  # the migrations' programme is there
    assert sorted(k for k in keys if k not in message_templates) == []


@pytest.mark.parametrize("registry", [audit_actions, job_names, message_templates], ids=lambda r: r.what)
def test_every_label_is_translated_into_chinese_and_english(registry):
    missing = []
    for code in registry.codes():
        with translation.override("zh-hans"):
            zh = registry.label(code)
        with translation.override("en"):
            en = registry.label(code)
        if ENGLISH_WORD.search(zh) or not en or en == code or zh == en:
            missing.append((code, zh, en))
    assert missing == []


@pytest.mark.django_db
def test_configuration_saves_are_labelled_by_the_model_name():
    with translation.override("zh-hans"):
        assert audit_actions.label("clinic.serviceitem.changed") == "修改诊疗项目"
        assert audit_actions.label("loyalty.coupontemplate.deleted") == "删除优惠券模板"
    with translation.override("en"):
        assert audit_actions.label("clinic.serviceitem.created") == "Created service item"
    assert audit_actions.get("clinic.nosuchmodel.changed") is None


@pytest.mark.django_db
def test_every_permission_reads_in_chinese():
    """Admin's user and role permission widgets list permission_label(): no "Can add …"."""
    english = []
    with translation.override("zh-hans"):
        for perm in Permission.objects.select_related("content_type"):
            label = permission_label(perm)
            if ENGLISH_WORD.search(label):
                english.append((perm.content_type.app_label, perm.codename, label))
    assert english == []


def _audit_row(branch, action="loyalty.points.redeemed", **changes) -> AuditLog:
    from django.db import transaction

    from clinic.services import audit_record

    with transaction.atomic():
        return audit_record(actor=None, action=action, target=branch, changes=changes)


@pytest.mark.django_db
def test_audit_row_reads_its_label_in_the_clinic_time_zone(branch):
    row = _audit_row(branch)
    local = timezone.localtime(row.at, timezone=dt.timezone(dt.timedelta(hours=8)))
    with translation.override("zh-hans"):
        assert str(row) == f"{local:%Y-%m-%d %H:%M} 系统 积分兑换"


@pytest.mark.django_db
def test_admin_audit_log_shows_labels_not_codes(hq_admin, client_for, branch):
    row = _audit_row(
        branch, action="members.member.phone_revealed", name=["旧名", "新名"], points=10, balance_after=20
    )
    client = client_for(hq_admin)
    listing = client.get(reverse("admin:clinic_auditlog_changelist")).content.decode()
    assert "查看完整手机号" in listing
    assert "members.member.phone_revealed" not in listing.replace("action=members.member.phone_revealed", "")
    detail = client.get(reverse("admin:clinic_auditlog_change", args=[row.pk])).content.decode()
    assert "查看完整手机号" in detail and "members.member.phone_revealed" not in detail
    assert "门店名称" in detail or "名称" in detail  # the changed field by its verbose name
    assert "旧名 → 新名" in detail
    # Keys that are not fields of the target read by the change-key labels, not as codes.
    assert "变动后余额" in detail and "balance_after" not in detail


@pytest.mark.django_db
def test_home_page_lists_jobs_by_their_chinese_name(manager, client_for):
    JobHeartbeat.objects.create(name="loyalty.points_expire", last_run_at=timezone.now(), runs=3)
    html = client_for(manager).get("/").content.decode()
    assert "积分过期处理" in html
    assert "loyalty.points_expire" not in html


@pytest.mark.django_db
def test_message_list_shows_the_template_name_not_its_key(manager, client_for, branch):
    from clinic.notifications.models import Outbox

    row = Outbox.objects.create(
        dedupe_key="t:1",
        channel="sms",
        recipient="+8613800001111",
        template_key="appointments.reminder",
        language="zh-hans",
        purpose="service",
        branch=branch,
        next_attempt_at=timezone.now(),
    )
    client = client_for(manager)
    for url in (reverse("notifications:outbox_list"), reverse("notifications:outbox_detail", args=[row.pk])):
        html = client.get(url).content.decode()
        assert "预约提醒" in html, url
        assert "appointments.reminder" not in html, url


def test_every_points_source_prefix_reads_as_words():
    from loyalty.selectors import source_label

    with translation.override("zh-hans"):
        assert source_label("review:demo:review:dianping:1") == "好评/问卷奖励"
        for key in ("visit:2", "enrol:6", "referral:3", "reward:4", "staff:5:sms:x", "adjust:7", "top_up:8"):
            label = source_label(key)
            # "No." is how Chinese documents number things (就诊 No. 2).
            assert label != key and not ENGLISH_WORD.search(label.replace("No.", "")), (key, label)


def test_every_model_and_field_of_ours_has_a_translated_name():
    """Admin lists and forms label columns by verbose_name; one left out reads MEMBER in
    a Chinese admin (the field name Django falls back to)."""
    from django.apps import apps
    from django.utils.functional import Promise

    untranslated = []
    for model in apps.get_models():
        if model._meta.app_label not in APPS or hasattr(model, "pgh_tracked_model"):
            continue
        if not isinstance(model._meta.verbose_name, Promise):
            untranslated.append(model._meta.label)
        for field in model._meta.get_fields():
            ours = getattr(field, "concrete", False) and not field.auto_created and field.editable
            if ours and not isinstance(field.verbose_name, Promise):
                untranslated.append(f"{model._meta.label}.{field.name}")
    assert untranslated == []
