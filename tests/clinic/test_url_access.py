"""Every URL in one permission matrix, generated from the URL configuration.

The test walks ``django.urls.get_resolver()``, fills every pattern with real ids of one
fully-populated branch (静安, the demo data plus what the demo lacks), and visits it by GET
and by POST (empty body) as each built-in role of that branch, as the manager of the
other branch (浦东) and as an anonymous visitor. Each answer is compared with the declaration
in docs/url_access.toml (documented in docs/permissions.md): a URL without a declaration
fails, so a new page is covered the day it lands. Every Django admin model page is visited
too, judged by the default role table and the model's declared owner.

One world for the module, inside a transaction rolled back at the end; each request runs in
a savepoint of its own, so a POST that changes something never affects the next visit.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction
from django.test import Client, RequestFactory, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from clinic.models import Branch, Role
from clinic.roles import ADMIN_SITE_ROLES, ROLE_PERMISSIONS
from tests.conftest import make_staff, verify_two_factor

# Every test here reads the database: the mark also makes pytest-django set up the test
# database (and each test a savepoint inside the module's world).
pytestmark = pytest.mark.django_db

DECLARATION = Path(__file__).resolve().parents[2] / "docs" / "url_access.toml"
ROLES = [str(role) for role in Role]
OTHER = "other_branch_manager"
ANON = "anonymous"
# Member portal sessions (portal/session.py): the world's portal family, and another family.
MEMBER = "member"
MEMBER_OTHER = "member_other_family"
MEMBERS = (MEMBER, MEMBER_OTHER)
ADMIN_PAGES = ("changelist", "add", "change", "delete", "history")


# --- the URL configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "members:detail"
    route: str  # "members/<int:pk>/"
    kwargs: tuple[str, ...]


def walk(resolver=None, prefix: str = "", namespace: str = "") -> list[Route]:
    routes = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace])) if entry.namespace else namespace
            routes += walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            # Unnamed patterns are declared by their route.
            qualified = f"{namespace}:{entry.name}" if namespace else entry.name
            name = route if entry.name is None else qualified
            pattern = entry.pattern
            kwargs = tuple(getattr(pattern, "converters", None) or pattern.regex.groupindex)
            routes.append(Route(name, route, kwargs))
    return routes


ROUTES = walk()
DECLARED = tomllib.loads(DECLARATION.read_text(encoding="utf-8"))
ADMIN_MODELS = {
    model._meta.label_lower: (model, model_admin) for model, model_admin in admin.site._registry.items()
}


def admin_page(name: str) -> tuple[str, str] | None:
    """("app.model", page) for an admin model page name, else None. ``page`` "object" is
    the unnamed ``<path:object_id>/`` that redirects to the change page."""
    for label in ADMIN_MODELS:
        app_label, model_name = label.split(".")
        if name == f"admin/{app_label}/{model_name}/<path:object_id>/":
            return label, "object"
        for page in ADMIN_PAGES:
            if name == f"admin:{app_label}_{model_name}_{page}":
                return label, page
    return None


def url_of(route: Route, kwargs: dict) -> str:
    if route.name != route.route:
        return reverse(route.name, kwargs=kwargs)
    # An unnamed pattern: put the values into its route (``<path:object_id>``, ``(?P<url>.*)$``).
    path = route.route
    for key, value in kwargs.items():
        path = path.replace(f"<path:{key}>", str(value)).replace(f"(?P<{key}>.*)$", str(value))
    return "/" + path


APP_ROUTES = [r for r in ROUTES if admin_page(r.name) is None]
ADMIN_ROUTES = [r for r in ROUTES if admin_page(r.name) is not None]


def test_every_url_and_every_admin_model_is_declared():
    missing = [r.name for r in APP_ROUTES if r.name not in DECLARED["urls"]]
    assert not missing, (
        f"URL patterns without a declaration in {DECLARATION.name} [urls] (say who may GET and "
        f"POST them): {missing}"
    )
    undeclared = sorted(set(ADMIN_MODELS) - set(DECLARED["admin"]))
    assert not undeclared, f"admin models without an owner in {DECLARATION.name} [admin]: {undeclared}"
    stale = sorted(set(DECLARED["urls"]) - {r.name for r in APP_ROUTES}) + sorted(
        set(DECLARED["admin"]) - set(ADMIN_MODELS)
    )
    assert not stale, f"declared but no longer in the URL configuration: {stale}"


# --- the world ------------------------------------------------------------------------------


def _build_world() -> dict:
    from django.utils.timezone import now as timezone_now

    from appointments.models import Appointment, ChargeLine, ShiftException, Visit
    from clinic import services as clinic_services
    from clinic.models import AuditLog
    from clinic.notifications.models import OptOut, Outbox
    from loyalty import coupons, rewards
    from loyalty.coupon_models import CouponTemplate, RewardItem
    from loyalty.errors import LoyaltyError
    from loyalty.models import (
        EarnCategoryRate,
        LedgerDrift,
        PointsAccount,
        StoredValueAccount,
        StoredValueDrift,
    )
    from members import services as member_services
    from members.models import AcquisitionChannel, Consent, ConsentKind, FamilyLink, ImportJob, Member
    from tests.loyalty.factories import earn

    # Rows that data migrations make are gone after a flushing (transactional) test: the admin
    # pages need one.
    AcquisitionChannel.objects.get_or_create(name="大众点评", defaults={"code": "DZDP"})
    call_command("seed_demo", quiet=True)
    here, there = Branch.objects.get(code="JA"), Branch.objects.get(code="PD")
    users = {role: make_staff(role, [here], username=f"matrix_{role}") for role in ROLES}
    users[Role.HQ_ADMIN] = make_staff(Role.HQ_ADMIN, [here, there], username="matrix_hq")
    users[OTHER] = make_staff(Role.BRANCH_MANAGER, [there], username="matrix_other")
    hq = users[Role.HQ_ADMIN]

    member = Member.objects.filter(branch=here, membership__isnull=False).order_by("pk").first()
    other_member = Member.objects.filter(branch=here, membership__isnull=True).order_by("pk").first()
    earn(member, 5000, "matrix:earn")
    redemption = None
    for item in RewardItem.objects.filter(is_active=True).order_by("points_cost"):
        try:  # the first reward this member may still have (per-member limits)
            redemption = rewards.reward_redeem(actor=hq, member=member, item=item)
            break
        except LoyaltyError:
            continue
    assert redemption is not None, "no reward the world's member may redeem"
    front = users[Role.FRONT_DESK]
    consent = Consent.objects.filter(member=member).first() or member_services.consent_grant(
        actor=front, member=member, kind=ConsentKind.MARKETING_SMS, channel="paper"
    )
    link = FamilyLink.objects.filter(member=member).first() or member_services.family_link_add(
        actor=front, member=member, relative=other_member, relation="spouse", is_guardian=False
    )
    template = CouponTemplate.objects.filter(is_active=True).order_by("pk").first()
    batch = coupons.coupon_batch_create(
        actor=hq, template=template, count=3, name="矩阵测试批次", branch=here, channel="测试"
    )
    visit = Visit.objects.filter(branch=here, payments__isnull=False).order_by("-pk").first()  # checked out
    line = ChargeLine.objects.filter(visit=visit).first()
    appointment = Appointment.objects.filter(branch=here, status="booked").order_by("pk").first()
    appointment = appointment or Appointment.objects.filter(branch=here).order_by("pk").first()
    outbox = Outbox.objects.filter(branch=here).order_by("pk").first()
    job = ImportJob.objects.create(
        file="imports/matrix.csv", original_name="matrix.csv", branch=here, created_by=hq, status="ready"
    )
    # Rows the demo does not make, so that every admin model has an object to open.
    doctor = appointment.doctor
    ShiftException.objects.create(doctor=doctor, branch=here, date=appointment.start.date(), kind="leave")
    LedgerDrift.objects.create(
        account=PointsAccount.objects.get(member=member, is_open=True), balance=1, entries_sum=0, lots_sum=0
    )
    sv_account = StoredValueAccount.objects.filter(member__branch=here, is_open=True).order_by("pk").first()
    assert sv_account is not None, "the demo has no stored value account in this branch"
    StoredValueDrift.objects.create(
        account=sv_account, paid_balance=1, paid_sum=0, bonus_balance=0, bonus_sum=0
    )
    from marketing.models import Attribution, Partner, PartnerContact, TouchSource

    partner = Partner.objects.create(name="矩阵测试单位", kind="company", branch=here)
    contact = PartnerContact.objects.create(partner=partner, name="联系人")
    # The demo's consultations may have fixed this person's first touch already.
    Attribution.objects.update_or_create(
        member=member, defaults={"partner": partner, "source": TouchSource.REGISTRATION}
    )
    from django.utils import timezone

    from marketing import consultations as consult_services
    from marketing.attribution import visit_touch_record
    from marketing.consultation_models import ConsultationChannel, VisitTouch

    consultation = consult_services.consultation_log(
        actor=users[Role.CONSULTANT],
        branch=here,
        channel=ConsultationChannel.objects.order_by("pk").first(),
        member=other_member,
        question="矩阵测试咨询",
        next_step="回电",
        next_step_due=timezone.localdate() + dt.timedelta(days=1),
    )
    if not VisitTouch.objects.filter(visit=visit).exists():
        visit_touch_record(visit=visit)
    from marketing.models import Rebate, RebateTerm, Statement

    rebate_term = RebateTerm.objects.create(
        partner=partner, kind="percent", percent=10, valid_from=dt.date(2026, 1, 1)
    )
    statement = Statement.objects.create(partner=partner, month=dt.date(2026, 1, 1))
    Rebate.objects.create(
        partner=partner,
        statement=statement,
        kind="accrual",
        term=rebate_term,
        visit=visit,
        base=100,
        amount=10,
        idempotency_key="matrix:rebate",
    )
    clinic_services.heartbeat_record(name="matrix")
    OptOut.objects.create(channel="sms", recipient="+8613900000000", reason="matrix")
    from clinic.notifications.models import InboundMessage

    InboundMessage.objects.create(
        channel="sms",
        provider="tencent",
        sender="+8613900000001",
        text="明天几点开门？",
        kind="other",
        received_at=timezone_now(),
        provider_key="matrix:1",
    )
    from clinic.models import ServiceCategory

    EarnCategoryRate.objects.create(
        category=ServiceCategory.objects.order_by("pk").first(), points_per_yuan=2
    )
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    axes_row = {"username": "nobody", "ip_address": "127.0.0.1", "user_agent": "test", "path_info": "/login/"}
    AccessAttempt.objects.create(**axes_row, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**axes_row)
    AccessFailureLog.objects.create(**axes_row)
    from followups.models import Task
    from followups.plan_models import ServiceRep

    ServiceRep.objects.get_or_create(member=member, defaults={"rep": users[Role.CUSTOMER_SERVICE]})
    task = Task.objects.filter(branch=here, status="open").order_by("pk").first()
    assert task is not None, "the demo has no open follow-up task in this branch"
    assert AuditLog.objects.filter(branch=here).exists()

    from clinic.notifications.unsubscribe import unsubscribe_token
    from followups.models import Recall
    from followups.recall_demo import demo_invitation
    from followups.surveys import survey_token

    recall = Recall.objects.filter(branch=here).order_by("pk").first()
    invitation = demo_invitation(here)
    assert recall is not None and invitation is not None, "the demo has no recall or open survey here"
    from followups.event_survey_demo import demo_event_invitation
    from followups.event_surveys import event_survey_token

    event_invitation = demo_event_invitation(here)
    assert event_invitation is not None, "the demo has no open event survey here"
    from reports.close_models import MonthClose

    closed_month = MonthClose.objects.filter(branch=here).order_by("-month").first()
    assert closed_month is not None, "the demo has no closed month in this branch"
    from reports import export_jobs
    from reports.export_models import ExportJob

    today = timezone_now().date()
    export_job = ExportJob.objects.create(
        requested_by=users[Role.BRANCH_MANAGER],
        branch=here,
        code="visits",
        period="mtd",
        lo=today.replace(day=1),
        hi=today + dt.timedelta(days=1),
        fmt="csv",
    )
    export_jobs.export_job_run(export_job.pk)  # a finished file to download
    from clinic.notifications.models import ContactCap
    from marketing.models import Broadcast, BroadcastSettings, QuadrantThreshold, Segment

    ContactCap.objects.get_or_create(pk=1)
    BroadcastSettings.objects.get_or_create(pk=1)
    QuadrantThreshold.objects.get_or_create(branch=here, defaults={"min_visits": 3})
    segment = Segment.objects.filter(branch=here).order_by("pk").first()
    broadcast = Broadcast.objects.filter(branch=here).order_by("pk").first()
    assert segment is not None and broadcast is not None, "the demo has no segment or broadcast here"
    from django.core.files.uploadedfile import SimpleUploadedFile

    from complaints import services as complaint_services
    from complaints.models import Complaint

    complaint = Complaint.objects.get(source_key="demo:investigating")
    make_good = complaint_services.make_good_request(
        actor=users[Role.CUSTOMER_SERVICE], complaint=complaint, kind="points", points=20_000
    )  # over the limit: waits for the manager
    attachment = complaint_services.attachment_add(
        actor=users[Role.CUSTOMER_SERVICE],
        complaint=complaint,
        upload=SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(32), content_type="image/png"),
    )
    from clinical import services as clinical_services
    from clinical.demo import REVIEW_TITLE
    from clinical.models import ClinicalNote, TreatmentPlan

    clinical_note = ClinicalNote.objects.filter(branch=here).order_by("pk").first()
    clinical_plan = TreatmentPlan.objects.get(title=REVIEW_TITLE)
    clinical_attachment = clinical_services.attachment_add(
        actor=users[Role.DOCTOR],
        member=clinical_plan.member,
        kind="xray",
        upload=SimpleUploadedFile("xray.png", b"\x89PNG\r\n\x1a\n" + bytes(32), content_type="image/png"),
    )
    assert clinical_note is not None, "the demo has no clinical note in this branch"
    from marketing.campaign_demo import UPCOMING
    from marketing.models import Campaign

    campaign = Campaign.objects.filter(branch=here, name=UPCOMING).first()
    assert campaign is not None, "the demo has no upcoming campaign here"
    from clinic.models import ServiceItem
    from marketing.models import CampaignPrice
    from members.models import Tag

    campaign_price = CampaignPrice.objects.create(
        campaign=campaign, item=ServiceItem.objects.get(code="PV02"), price=100
    )
    from members.actors import member_actor
    from members.privacy import privacy_erasure_request

    privacy_request = privacy_erasure_request(actor=member_actor(member), member=member, reason="matrix")
    # The member portal: a family (parent, spouse on the same phone, child in the parent's
    # care) whose ids fill the portal's URLs, and another family that must get 404 on them.
    from tests.portal.conftest import make_family
    from tests.portal.world import portal_world

    family = make_family(here, phone="+8613911119901", surname="矩阵")
    other_family = make_family(here, phone="+8613922229902", surname="别家")
    portal = portal_world(family, other_family)
    from inventory.models import Batch, Item

    stock_item = Item.objects.get(code="AN01")
    stock_batch = Batch.objects.get(lot_number="AN2601X")  # stocked at this branch only
    objects_by_route = [  # route prefix → the object its <pk> names (longest prefix first)
        ("inventory/items/", stock_item),
        ("inventory/batches/", stock_batch),
        ("members/privacy-requests/", privacy_request),
        ("followups/recalls/", recall),
        ("reports/exports/", export_job),
        ("members/import/", job),
        ("marketing/partners/", partner),
        ("marketing/statements/", statement),
        ("marketing/segments/", segment),
        ("marketing/broadcasts/", broadcast),
        ("marketing/campaigns/", campaign),
        ("loyalty/coupons/batches/", batch),
        ("appointments/visits/", visit),
        ("members/", member),
        ("loyalty/members/", member),
        ("notifications/", outbox),
        ("appointments/", appointment),
        ("marketing/consultations/", consultation),
        ("marketing/people/", member),
        ("followups/", task),
        ("complaints/make-goods/", make_good),
        ("complaints/attachments/", attachment),
        ("complaints/", complaint),
        *portal["objects_by_route"],
        ("clinical/members/", clinical_plan.member),
        ("clinical/visits/", clinical_note.visit),
        ("clinical/notes/", clinical_note),
        ("clinical/attachments/", clinical_attachment),
        ("clinical/plans/", clinical_plan),
    ]
    values = {
        "consent_id": consent.pk,
        "link_id": link.pk,
        "other": other_member.pk,
        "rid": redemption.pk,
        "line_id": line.pk,
        "contact_id": contact.pk,
        "term_id": rebate_term.pk,
        "field": "phone",
        "fmt": "json",
        "action": "confirm",
        "app_label": "clinic",
        "content_type_id": ContentType.objects.get_for_model(Member).pk,
        "object_id": member.pk,
        "id": users[Role.FRONT_DESK].pk,
        "url": "no-such-page/",  # admin's catch-all
        "token": survey_token(invitation),
        "event_token": event_survey_token(event_invitation),
        "unsub_token": unsubscribe_token("sms", "+8613900000000"),
        "provider": "tencent",
        "kind": "reply",
        "inbound_token": "inbound-test-token",
        "code": "visits",  # reports:drill, a dashboard tile
        "ext": "xlsx",  # reports:drill_export
        "year": closed_month.month.year,  # reports:month, a month closed at this branch
        "month": closed_month.month.month,
        "step": "note",  # complaints:act, one action of the complaint page
        "decision": "approve",  # complaints:make_good_decide
        "price_id": campaign_price.pk,  # marketing:campaign_price_remove
        "tag_id": Tag.objects.get_or_create(name="矩阵标签")[0].pk,  # members:tag_edit
        **portal["values"],
        "op": "phase",  # clinical:plan_act, one action of the plan page (empty: refused as 400)
    }
    return {
        "here": here,
        "there": there,
        "users": users,
        "objects_by_route": objects_by_route,
        "values": values,
        "admin_objects": _admin_objects(users, here, hq, batch),
        "portal_phones": {MEMBER: family.phone, MEMBER_OTHER: other_family.phone},
        "portal_family": family,
    }


def _admin_objects(users, here, hq, batch) -> dict:
    """One object per admin model: for branch-owned ones, one this branch's manager sees and
    the other branch's manager does not."""
    request = RequestFactory().get("/")
    found = {}
    for label, (model, model_admin) in ADMIN_MODELS.items():
        qs = model._default_manager.order_by("pk")
        if DECLARED["admin"].get(label, {}).get("owner") == "branch" and hasattr(
            model_admin, "scope_queryset"
        ):
            request.user = users[Role.BRANCH_MANAGER]
            mine = model_admin.scope_queryset(qs, request)
            request.user = users[OTHER]
            qs = mine.exclude(
                pk__in=model_admin.scope_queryset(model._default_manager.all(), request).values("pk")
            )
        found[label] = qs.first()
    found["auth.group"] = users[Role.FRONT_DESK].groups.first()  # a built-in role
    found["auth.user"] = users[Role.FRONT_DESK]
    found["clinic.staffprofile"] = users[Role.FRONT_DESK].staff
    found["clinic.branch"] = here
    found["loyalty.couponbatch"] = batch
    return found


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    # The module's log-ins outlive the run however slow the machine: each visit's savepoint is
    # rolled back, so the sessions' sliding expiry never moves (30 minutes idle otherwise).
    long_sessions = override_settings(SESSION_COOKIE_AGE=24 * 3600)
    long_sessions.enable()
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = _build_world()
            built["sessions"] = {}
            for key, user in built["users"].items():
                client = Client()
                client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
                verify_two_factor(client, user)
                built["sessions"][key] = client.cookies[settings.SESSION_COOKIE_NAME].value
            from portal.session import cookie_name
            from tests.portal.conftest import portal_login

            for key, phone in built["portal_phones"].items():
                client = portal_login(Client(), phone, member=built["portal_family"].parent)
                built["sessions"][key] = client.cookies[cookie_name()].value
            # WeChat log-in configured (no request reaches WeChat: the start page only
            # redirects, and the callback without a state never calls out).
            wechat = override_settings(PORTAL_WECHAT={"app_id": "wxmatrix", "app_secret": "matrix"})
            wechat.enable()
            try:
                yield built
            finally:
                wechat.disable()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            long_sessions.disable()


@pytest.fixture
def visit(world, django_db_blocker):
    """``visit(persona, method, url) -> (outcome, content)``, each in a rolled-back savepoint."""

    def go(persona: str, method: str, url: str):
        from portal.session import cookie_name

        client = Client(raise_request_exception=False)
        if persona in MEMBERS:
            client.cookies[cookie_name()] = world["sessions"][persona]
        elif persona != ANON:
            client.cookies[settings.SESSION_COOKIE_NAME] = world["sessions"][persona]
        with django_db_blocker.unblock(), transaction.atomic():
            response = client.get(url) if method == "GET" else client.post(url, {})
            content = response.content if not response.streaming else b""
            transaction.set_rollback(True)
        return classify(response, anonymous=persona == ANON or persona in MEMBERS), content

    return go


def classify(response, *, anonymous: bool = False) -> str:
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        path = urlsplit(response["Location"]).path
        if path == reverse("portal:login"):
            return "portal_login"
        if path in (reverse("login"), reverse("admin:login")):
            # Logging out ends at the log-in page: that is the logout working.
            logout = response.wsgi_request.path in (reverse("logout"), reverse("admin:logout"))
            return "ok" if logout and not anonymous else "login"
        if path == reverse("admin:index") and not response.wsgi_request.user.is_staff:
            return "login"  # admin sends a non-admin role away
        return "ok"
    if status == 403:
        return "forbidden"
    if status == 404:
        return "not_found"
    if status == 405:
        return "not_allowed"
    if status >= 500:
        return "error"
    return "ok"


# --- expectations ------------------------------------------------------------------------------


def roles_for(spec) -> set[str] | str:
    """The roles a declaration lets in, or "none" / "public"."""
    if spec in ("none", "public"):
        return spec
    if spec == "staff":
        return set(ROLES)
    if isinstance(spec, list):
        unknown = set(spec) - set(ROLES)
        assert not unknown, f"unknown roles {unknown} in {DECLARATION.name}"
        return set(spec)
    assert "." in spec, f"{spec!r}: a permission, a list of roles, 'staff', 'public' or 'none'"
    return {role for role, perms in ROLE_PERMISSIONS.items() if spec in perms}


def expected(
    persona: str, allowed: set[str] | str, *, public: bool, has_ids: bool, other: str, is_admin: bool
):
    """The outcomes that count as right for ``persona`` given who is ``allowed``."""
    refused = {"forbidden", "not_found"} | ({"login"} if is_admin else set())
    if persona == ANON:
        if not public:
            return {"login"}
        return {"not_allowed"} if allowed == "none" else {"ok"} if allowed == "public" else {"login"}
    if allowed == "none":
        # Admin refuses a non-admin role before it looks at the method.
        return (
            refused if is_admin and persona in ROLES and persona not in ADMIN_SITE_ROLES else {"not_allowed"}
        )
    role = Role.BRANCH_MANAGER if persona == OTHER else persona
    lets_in = allowed == "public" or role in allowed
    if persona == OTHER and has_ids and other == "not_found":
        return {"not_found"} if lets_in else refused
    return {"ok"} if lets_in else refused


def fill(route: Route, world) -> str:
    kwargs = {}
    for key in route.kwargs:
        if key == "pk":
            obj = next((o for prefix, o in world["objects_by_route"] if route.route.startswith(prefix)), None)
            assert obj is not None, f"{route.name}: the world has no object for <pk> of {route.route}"
            kwargs[key] = obj.pk
        else:
            assert key in world["values"], f"{route.name}: give the world a value for <{key}>"
            kwargs[key] = world["values"][key]
    return url_of(route, kwargs)


PERSONAS = [*ROLES, OTHER, ANON]
STAFF_URL_PERSONAS = [*PERSONAS, *MEMBERS]


def member_expected(persona: str, decl: dict, method: str, *, has_ids: bool) -> set[str]:
    """The outcomes that count as right on a member-portal URL (``member = ...``).

    ``member = "own"``: a member session is needed; the ids in the URL are the world family's,
    so another family gets 404 (``other_family = "as_member"`` when the URL names no one's
    data); staff sessions and anonymous visitors are sent to the portal's log-in (staff may
    also be refused outright). ``member = "public"``: everyone, by ``get``/``post``;
    ``redirect_ok = true`` when being sent on to the portal's log-in is the page working
    (the log-in steps, the log-out, WeChat's callback without a state)."""
    spec = decl.get(method.lower(), "none")
    assert spec in ("member", "public", "none"), (
        f"{spec!r}: a member URL's get/post is member, public or none"
    )
    scope = decl["member"]
    assert scope in ("own", "public"), f"member = {scope!r}: own or public"
    if scope == "public":
        if spec == "none":
            return {"not_allowed"}
        return {"ok", "portal_login"} if decl.get("redirect_ok") else {"ok"}
    if persona not in MEMBERS:
        return {"portal_login"} if persona == ANON else {"portal_login", "forbidden", "not_found"}
    if spec == "none":
        return {"not_allowed"}
    if persona == MEMBER_OTHER and has_ids and decl.get("other_family", "not_found") == "not_found":
        return {"not_found"}
    return {"ok"}


@pytest.mark.parametrize("route", APP_ROUTES, ids=[r.name for r in APP_ROUTES])
def test_url_access_matches_the_declaration(route, world, visit):
    decl = DECLARED["urls"].get(route.name)
    assert decl is not None, f"{route.name} ({route.route}) is not declared in {DECLARATION.name}"
    url = fill(route, world)
    if decl.get("query"):
        url = f"{url}?{decl['query']}"
    has_ids = bool(route.kwargs)
    if "member" in decl:
        wrong = []
        for method in ("GET", "POST"):
            for persona in STAFF_URL_PERSONAS:
                want = member_expected(persona, decl, method, has_ids=has_ids)
                got, _content = visit(persona, method, url)
                if got not in want:
                    wrong.append(f"{method} as {persona}: got {got}, declared {sorted(want)}")
        assert not wrong, f"{route.name} {url}:\n  " + "\n  ".join(wrong)
        return
    other = decl.get("other_branch", "not_found" if has_ids else "as_role")
    wrong = []
    for method in ("GET", "POST"):
        allowed = roles_for(decl.get(method.lower(), "none"))
        for persona in STAFF_URL_PERSONAS:
            if persona in MEMBERS:
                # A member session is no staff session: judged as an anonymous visitor.
                want = expected(
                    ANON,
                    allowed,
                    public=decl.get("public", False),
                    has_ids=has_ids,
                    other=other,
                    is_admin=route.route.startswith("admin/"),
                )
                got, _content = visit(persona, method, url)
                if got not in want:
                    wrong.append(f"{method} as {persona}: got {got}, declared {sorted(want)}")
                continue
            want = expected(
                persona,
                allowed,
                public=decl.get("public", False),
                has_ids=has_ids,
                other=other,
                is_admin=route.route.startswith("admin/"),
            )
            got, _content = visit(persona, method, url)
            if got not in want:
                wrong.append(f"{method} as {persona}: got {got}, declared {sorted(want)}")
    assert not wrong, f"{route.name} {url}:\n  " + "\n  ".join(wrong)


# --- Django admin ----------------------------------------------------------------------------


def admin_allowed(label: str, page: str, method: str) -> set[str]:
    """The roles that may open an admin model page, from the default role table."""
    decl = DECLARED["admin"][label]
    app_label, model_name = label.split(".")
    readonly = decl.get("readonly", False)
    can = {
        "add": decl.get("add", not readonly),
        "change": not readonly,
        "delete": decl.get("delete", not readonly),
    }
    if page == "object":  # a redirect to the change page, which then decides
        return {str(role) for role in ADMIN_SITE_ROLES}
    roles = set()
    for role in ADMIN_SITE_ROLES:
        perms = ROLE_PERMISSIONS[role]
        view = f"{app_label}.view_{model_name}" in perms or f"{app_label}.change_{model_name}" in perms
        if page in ("changelist", "history") or (page == "change" and method == "GET"):
            ok = view
        elif page == "change":
            ok = can["change"] and f"{app_label}.change_{model_name}" in perms
        else:
            ok = can[page] and f"{app_label}.{page}_{model_name}" in perms
        if ok:
            roles.add(str(role))
    return roles


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=[r.name for r in ADMIN_ROUTES])
def test_admin_page_access(route, world, visit):
    label, page = admin_page(route.name)
    obj = world["admin_objects"][label]
    if route.kwargs:
        assert obj is not None, f"the world has no {label} for {route.name}: add one to _build_world"
    url = url_of(route, {"object_id": obj.pk} if route.kwargs else {})
    branch_owned = DECLARED["admin"][label]["owner"] == "branch"
    methods = ("GET",) if page in ("history", "object") else ("GET", "POST")
    wrong = []
    for method in methods:
        allowed = admin_allowed(label, page, method)
        for persona in PERSONAS:
            want = expected(
                persona,
                allowed,
                public=False,
                has_ids=bool(route.kwargs),
                other="not_found" if branch_owned and page != "object" else "as_role",
                is_admin=True,
            )
            got, content = visit(persona, method, url)
            if got not in want:
                wrong.append(f"{method} as {persona}: got {got}, declared {sorted(want)}")
            if (
                page == "changelist"
                and persona == OTHER
                and branch_owned
                and got == "ok"
                and reverse(f"admin:{label.replace('.', '_')}_change", args=[obj.pk]).encode() in content
            ):
                wrong.append(f"{method} as {persona}: this branch's {label} #{obj.pk} is listed")
    assert not wrong, f"{route.name} {url}:\n  " + "\n  ".join(wrong)


def test_no_admin_form_offers_another_branchs_rows(world):
    """Every admin form's choice of a branch, a login, a member or any branch-owned row is
    limited to the manager's branch."""
    from django.forms import ModelChoiceField, ModelMultipleChoiceField

    from clinic.admin import scoped_choices

    request = RequestFactory().get("/admin/")
    request.user = world["users"][Role.BRANCH_MANAGER]
    there_staff = world["users"][OTHER]
    leaks = []
    for label, (_model, model_admin) in ADMIN_MODELS.items():
        form_class = model_admin.get_form(request, None) if hasattr(model_admin, "get_form") else None
        if form_class is None:
            continue
        for name, field in form_class.base_fields.items():
            if not isinstance(field, (ModelChoiceField, ModelMultipleChoiceField)):
                continue
            related = field.queryset.model
            if related is Branch and field.queryset.filter(pk=world["there"].pk).exists():
                leaks.append(f"{label}.{name} offers {world['there']}")
            if related is type(there_staff) and field.queryset.filter(pk=there_staff.pk).exists():
                leaks.append(f"{label}.{name} offers {there_staff} of the other branch")
            scoped = scoped_choices(related, request)
            if scoped is not None and field.queryset.exclude(pk__in=scoped.values("pk")).exists():
                leaks.append(f"{label}.{name} offers {related._meta.label} rows outside the branch")
    assert not leaks, leaks
