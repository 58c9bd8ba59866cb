"""Issue 11 item 13, for every edit form: open it on a fully filled record, save it unchanged,
and nothing in the database changes (not a field, not a many-to-many, not an inline row).

The list is generated: every Django admin model with a change page (ADMIN_MODELS of the
permission matrix, so a model registered tomorrow is covered the day it lands) opened on the
object the matrix uses, after every blank field of that object was filled with a valid value;
and the app's own edit forms (person, medical alerts, appointment move). One world (the
permission matrix's: seed_demo plus what the demo lacks), one logged-in page, in Chinese.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from tests.clinic.test_url_access import ADMIN_MODELS, _build_world
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Not filled by fill_blanks: the person is filled explicitly in the app test (its fields have
# formats a made-up value would not meet); tiers obey rules across rows (thresholds rise with
# the rank, the entry tier has none), so the seeded top tier is opened as the demo has it.
EXPLICIT = {"members.member", "loyalty.tier"}
SAMPLE_TEXT = "测试值"
SAMPLE_DATE = dt.date(1990, 5, 17)


def _is_auto(field) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _candidate(field, obj):
    """A valid value for a blank field, or None to leave it."""
    if field.primary_key or not field.editable or _is_auto(field) or field.name.startswith("pgh_"):
        return None
    if field.choices:
        return field.choices[0][0] if not isinstance(field.choices[0][1], (list, tuple)) else None
    if isinstance(field, models.ForeignKey):
        qs = field.related_model._default_manager.order_by("pk")
        if field.related_model is type(obj):
            qs = qs.exclude(pk=obj.pk)
        return qs.first()
    if isinstance(field, models.EmailField):
        return "test@example.com"
    if isinstance(field, models.URLField):
        return "https://example.com/"
    if isinstance(field, models.TextField):
        return f"{SAMPLE_TEXT}\n第二行"
    if isinstance(field, models.CharField) and not isinstance(field, models.SlugField):
        return SAMPLE_TEXT[: field.max_length]
    if isinstance(field, models.DateTimeField):
        return timezone.make_aware(dt.datetime(2026, 5, 17, 9, 30))
    if isinstance(field, models.DateField):
        return SAMPLE_DATE
    if isinstance(field, models.TimeField):
        return dt.time(9, 30)
    if isinstance(field, models.DecimalField):
        return Decimal("12.50")
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return 3
    if isinstance(field, models.BooleanField) and field.null:
        return True
    return None


def _model_errors(model, pk) -> set:
    """What the model's own validation (field validators and ``clean()``) says of the row."""
    try:
        model._default_manager.get(pk=pk).full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return {(k, str(m)) for k, msgs in exc.message_dict.items() for m in msgs}
    return set()


def fill_blanks(obj) -> list[str]:
    """Give every blank field of ``obj`` a value its model accepts (field validators, the
    model's ``clean()`` and the database's constraints: a value that makes the row invalid
    is taken back), and every empty many-to-many one related row. Returns the names filled."""
    model = type(obj)
    rows = model._default_manager.filter(pk=obj.pk)
    baseline = _model_errors(model, obj.pk)
    filled = []
    for field in model._meta.concrete_fields:
        if getattr(obj, field.attname) not in (None, ""):
            continue
        value = _candidate(field, obj)
        if value is None:
            continue
        try:
            field.clean(value.pk if isinstance(value, models.Model) else value, obj)
        except ValidationError:
            continue
        try:
            with transaction.atomic():
                rows.update(**{field.name: value})
        except (DatabaseError, ValueError, TypeError):
            continue
        if _model_errors(model, obj.pk) - baseline:
            rows.update(**{field.name: getattr(obj, field.name)})
            continue
        filled.append(field.name)
    for field in model._meta.many_to_many:
        if not field.editable or getattr(obj, field.name).exists():
            continue
        other = field.related_model._default_manager.order_by("pk").first()
        if other is not None:
            getattr(obj, field.name).add(other)
            filled.append(field.name)
    return filled


def _values(instance) -> dict:
    return {
        f.attname: getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if not _is_auto(f) and f.attname not in {"updated_at", "updated_by_id"}
    }


def snapshot(obj, inline_models=()) -> dict:
    """Every stored value of the object, its many-to-manys and its inline rows."""
    fresh = type(obj)._default_manager.get(pk=obj.pk)
    data = {"fields": _values(fresh)}
    for field in fresh._meta.many_to_many:
        data[field.name] = sorted(getattr(fresh, field.name).values_list("pk", flat=True))
    for inline_model, fk_name in inline_models:
        rows = inline_model._default_manager.filter(**{fk_name: fresh}).order_by("pk")
        data[inline_model._meta.label_lower] = [_values(r) for r in rows]
    return data


def _inline_models(model_admin, request, obj) -> list[tuple]:
    from django.forms.models import _get_foreign_key

    found = []
    for inline in model_admin.get_inline_instances(request, obj):
        fk = _get_foreign_key(type(obj), inline.model, fk_name=inline.fk_name)
        found.append((inline.model, fk.name))
    return found


def _diff(before: dict, after: dict) -> dict:
    out = {}
    for key in before.keys() | after.keys():
        b, a = before.get(key), after.get(key)
        if key == "fields":
            changed = {k: (b[k], a.get(k)) for k in b if b[k] != a.get(k)}
            if changed:
                out[key] = changed
        elif b != a:
            out[key] = (b, a)
    return out


@pytest.fixture
def world(db):
    from django.contrib.auth import get_user_model

    built = _build_world()
    built["superuser"] = get_user_model().objects.create_superuser(
        "roundtrip_admin", "admin@example.com", PASSWORD
    )
    return built


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda u: "/login/" not in u)  # each role lands on its own start page


def test_every_admin_change_form_saved_unchanged_changes_nothing(live_server, page, world):
    request = RequestFactory().get("/")
    request.user = world["superuser"]
    _log_in(page, live_server.url, "roundtrip_admin")
    opened, problems = [], {}
    from loyalty.models import Tier

    world["admin_objects"]["loyalty.tier"] = Tier.objects.order_by("-rank").first()
    for label, (model, model_admin) in sorted(ADMIN_MODELS.items()):
        obj = world["admin_objects"].get(label)
        if obj is None or not model_admin.has_change_permission(request, obj):
            continue
        if label not in EXPLICIT:
            fill_blanks(obj)
        inlines = _inline_models(model_admin, request, obj)
        before = snapshot(obj, inlines)
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
        page.goto(live_server.url + url)
        page.locator('input[name="_save"]').click()
        page.wait_for_load_state()
        opened.append(label)
        errors = page.locator(".errornote, .errorlist").all_inner_texts()
        if errors:
            problems[label] = {"form errors": errors}
            continue
        diff = _diff(before, snapshot(obj, inlines))
        if diff:
            problems[label] = diff
    assert problems == {}
    # The generated list really walks the admin, the forms of issue 11 among them.
    assert {
        "auth.user",
        "auth.group",
        "clinic.staffprofile",
        "clinic.serviceitem",
        "appointments.shifttemplate",
        "appointments.shiftexception",
        "loyalty.coupontemplate",
        "loyalty.bonusrule",
        "loyalty.tier",
        "notifications.messagetemplate",
    } <= set(opened), opened


def test_every_app_edit_form_saved_unchanged_changes_nothing(live_server, page, world):
    from appointments.models import Appointment
    from members import services as member_services
    from members.models import AcquisitionChannel, Member, Tag

    hq = world["users"]["hq_admin"]
    here = world["here"]
    member = Member.objects.filter(branch=here, membership__isnull=False).order_by("pk").first()
    consultant = world["users"]["consultant"]
    Tag.objects.get_or_create(name="VIP")
    member = member_services.member_update(
        actor=hq,
        member=member,
        tags=list(Tag.objects.all()[:2]),
        name="王芳",
        gender="F",
        birth_date=dt.date(1995, 11, 20),
        wechat_id="wangfang95",
        other_contacts="QQ 12345",
        address="上海市静安区南京西路 1 号",
        occupation="教师",
        notes="怕疼\n周末来",
        channel=AcquisitionChannel.objects.order_by("pk").first(),
        consultant=consultant,
    )
    member = member_services.member_medical_update(
        actor=hq,
        member=member,
        allergies="青霉素",
        conditions=["hypertension", "diabetes"],
        dental_history="2019 年拔除 38",
    )
    appt = Appointment.objects.filter(branch=here, status="booked", start__gt=timezone.now()).first()
    assert appt is not None, "the world has no future booking to move"

    _log_in(page, live_server.url, "roundtrip_admin")
    problems = {}

    before = snapshot(member)
    page.goto(f"{live_server.url}/members/{member.pk}/edit/")
    assert page.locator("#id_birth_date").input_value() == "1995-11-20"
    page.get_by_test_id("member-form").get_by_role("button", name="保存").click()
    page.wait_for_url(f"**/members/{member.pk}/")
    if diff := _diff(before, snapshot(member)):
        problems["members:edit"] = diff

    before = snapshot(member)
    page.goto(f"{live_server.url}/members/{member.pk}/?tab=medical")
    page.get_by_role("button", name="保存医疗警示").click()
    page.wait_for_load_state()
    if diff := _diff(before, snapshot(member)):
        problems["members:medical"] = diff

    before = snapshot(appt)
    page.goto(f"{live_server.url}/appointments/{appt.pk}/move/")
    page.get_by_test_id("move-form").get_by_role("button", name="改约").click()
    page.wait_for_load_state()
    if diff := _diff(before, snapshot(appt)):
        problems["appointments:move"] = diff

    # marketing: a consultation with every field filled, a partner with every field filled.
    from clinic.models import ServiceItem
    from marketing import consultations as consult_services
    from marketing import partners
    from marketing.consultation_models import Consultation
    from marketing.models import Partner

    consultation = Consultation.objects.filter(branch=here, question="矩阵测试咨询").get()
    consultation = consult_services.consultation_update(
        actor=hq,
        consultation=consultation,
        question="想做种植，问价格和疗程",
        services=list(ServiceItem.objects.filter(is_active=True).order_by("pk")[:2]),
        quote=Decimal("6800.00"),
        outcome="other",
        outcome_reason="先回家商量",
        next_step="三天后回电",
        next_step_due=timezone.localdate() + dt.timedelta(days=3),
        partner=Partner.objects.filter(branch=here).order_by("pk").first(),
    )
    before = snapshot(consultation)
    page.goto(f"{live_server.url}/marketing/consultations/{consultation.pk}/edit/")
    page.get_by_test_id("consult-submit").click()
    page.wait_for_url(f"**/marketing/consultations/{consultation.pk}/")
    if diff := _diff(before, snapshot(consultation)):
        problems["marketing:consult_edit"] = diff

    partner = Partner.objects.filter(branch=here).order_by("pk").first()
    partner = partners.partner_update(
        actor=hq,
        partner=partner,
        phone="021-62881101",
        address="上海市静安区常德路 8 号",
        notes="每学期初体检合作",
        account_manager=world["users"]["marketing"],
    )
    before = snapshot(partner)
    page.goto(f"{live_server.url}/marketing/partners/{partner.pk}/edit/")
    page.get_by_test_id("partner-form").get_by_role("button", name="保存").click()
    page.wait_for_url(f"**/marketing/partners/{partner.pk}/")
    if diff := _diff(before, snapshot(partner)):
        problems["marketing:partner_edit"] = diff

    from marketing.models import Segment

    segment = Segment.objects.filter(branch=here).exclude(filters={}).order_by("pk").first()
    assert segment is not None, "the demo has a segment with filters"
    before = snapshot(segment)
    page.goto(f"{live_server.url}/marketing/segments/{segment.pk}/")
    with page.expect_navigation():
        page.get_by_test_id("segment-save").click()
    if diff := _diff(before, snapshot(segment)):
        problems["marketing:segment_edit"] = diff

    from marketing import campaigns
    from marketing.campaign_demo import UPCOMING
    from marketing.models import Campaign
    from members.models import Tag

    campaign = Campaign.objects.get(branch=here, name=UPCOMING)
    campaign = campaigns.campaign_update(
        actor=hq,
        campaign=campaign,
        target_tag=Tag.objects.order_by("pk").first(),
        reward_points=150,
        notes="亲子讲座\n第二行",
    )
    before = snapshot(campaign)
    page.goto(f"{live_server.url}/marketing/campaigns/{campaign.pk}/edit/")
    page.get_by_test_id("campaign-save").click()
    page.wait_for_url(f"**/marketing/campaigns/{campaign.pk}/")
    if diff := _diff(before, snapshot(campaign)):
        problems["marketing:campaign_edit"] = diff

    tag = Tag.objects.order_by("pk").first()
    before = snapshot(tag)
    page.goto(f"{live_server.url}/members/tags/")
    with page.expect_navigation():
        page.get_by_test_id("tag-list").locator(f"tr[data-tag='{tag.name}']").get_by_role("button").click()
    if diff := _diff(before, snapshot(tag)):
        problems["members:tag_edit"] = diff
    assert problems == {}


# The app's forms that edit an existing record, each saved unchanged above. A new URL whose
# name says it edits (edit, move, reschedule, change, update) must be added to that test.
APP_EDIT_FORMS = {
    "members:edit",
    "members:medical",
    "appointments:move",
    "marketing:consult_edit",
    "marketing:partner_edit",
    "marketing:segment_edit",
    "marketing:campaign_edit",
    "members:tag_edit",
}
# Named like an edit, but no single record to open and save unchanged.
NOT_EDIT_FORMS = {
    "appointments:bulk_move",  # moves a doctor's day of bookings elsewhere
    "portal:appointment_reschedule",  # the member picks a new time: there is no unchanged save
}
EDITS = re.compile(r"(?:^|[:_])(?:edit|move|reschedule|change|update|medical)$")


def test_every_app_edit_url_is_in_the_round_trip():
    from tests.clinic.test_url_access import walk

    names = {route.name for route in walk() if not route.name.startswith("admin:")}
    assert {"members:edit", "appointments:move"} <= names
    assert sorted(n for n in names if EDITS.search(n) and n not in APP_EDIT_FORMS | NOT_EDIT_FORMS) == []
