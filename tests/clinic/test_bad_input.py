"""Hostile input to every URL, generated from the URL configuration and the forms: no 500s,
and a refused POST saves nothing.

The world is the demo data (``seed_demo``), seen by its HQ admin (every branch, every
permission). For every URL pattern the test

1. builds a URL with ids of real objects (and a malformed variant: a huge id),
2. GETs it and reads the forms on the page: a GET form's fields are query parameters of its
   action, a POST form's fields (with the values the page filled in) are the body its action
   takes; views that read ``request.GET`` / ``request.POST`` by hand are found in their
   module's source,
3. sends every hostile value to every query parameter, and POSTs every hostile value to
   every field (all at once, and one field at a time on top of the page's own values),
4. fails on any 500, and on any row written by a POST that did not succeed (no redirect).

Each URL runs in a savepoint that is rolled back, so one URL's successful POSTs do not
change the world of the next.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import sys
import traceback
import zlib
from collections import defaultdict
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import verify_two_factor

HOSTILE = [
    "9999-12-31",
    "0001-01-01",
    "\x00",
    str(10**30),
    "-1",
    "abc",
    "²",  # a digit to str.isdigit(), not to int()
    "x" * 5000,
    "\u202e王芳",
    "2026-02-30",
]
# On top of a valid form, one field at a time (fewer values: the requests multiply).
HOSTILE_PER_FIELD = ["9999-12-31", str(10**30)]
# Views whose success is a 200 rather than a redirect (the row they write is the point).
# RFC 8058 one-click unsubscribe and the SMS providers' push callbacks answer a successful POST
# with 200 (the mail client or the provider reads the status, not a redirect).
SUCCESS_IS_200 = {"members:reveal", "notifications:unsubscribe", "notifications:inbound"}

# URLs that end the test's session or are not pages of the project.
SKIP_NAMES = {"logout", "login", "set_language", "javascript-catalog", "healthz", "favicon", "view_on_site"}
SKIP_PREFIXES = ("admin/jsi18n", "static/", "media/")
ONLY = tuple(p for p in os.environ.get("BAD_INPUT_ONLY", "").split(",") if p)
# Form fields the test client must keep as the page sent them.
KEEP_FIELDS = {"csrfmiddlewaretoken"}

PROJECT_APPS = {"clinic", "notifications", "members", "loyalty", "appointments", "auth", "followups"}
GET_PARAM = re.compile(r"""request\.GET(?:\.get|\.getlist)?[\[(]\s*["'](\w+)["']""")
POST_PARAM = re.compile(r"""request\.POST(?:\.get|\.getlist)?[\[(]\s*["'](\w+)["']""")


class FormParser(HTMLParser):
    """The forms on a page: method, action and {field: [values]} as a browser would send."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {
                "method": (a.get("method") or "get").lower(),
                "action": a.get("action") or a.get("hx-post") or a.get("hx-get") or "",
                "fields": defaultdict(list),
            }
            if a.get("hx-post"):
                self._form["method"] = "post"
            self.forms.append(self._form)
            return
        if self._form is None or not a.get("name"):
            return
        name = a["name"]
        fields = self._form["fields"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio"):
                fields.setdefault(name, [])
                if "checked" in a:
                    fields[name].append(a.get("value") or "on")
                return
            fields[name].append(a.get("value") or "")
        elif tag == "select":
            self._select = name
            fields.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            fields[self._select].append(a.get("value") or "")
        elif tag == "textarea":
            self._textarea = name
            fields[name].append("")

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def walk(resolver=None, prefix="", namespace=""):
    """(route, namespaced name, pattern) of every named URL pattern."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or ""
            yield from walk(p, prefix + str(p.pattern), f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(p, URLPattern) and p.name:
            yield prefix + str(p.pattern), namespace + p.name, p


class World:
    """Ids of real demo objects for every URL argument."""

    def __init__(self):
        from appointments.models import Appointment, ChargeLine, Visit
        from clinic.notifications.models import Outbox
        from loyalty.coupon_models import CouponBatch
        from loyalty.models import Membership
        from members.models import Consent, FamilyLink

        member = Membership.objects.select_related("member").order_by("pk").first().member
        self.member = member.pk
        # The member portal's pages are probed with this person's member session too.
        self.portal_phone = member.phone
        self.other = Membership.objects.exclude(member=member).order_by("pk").first().member_id
        consent = Consent.objects.filter(member_id=self.member).first() or Consent.objects.first()
        self.consent = consent.pk
        link = FamilyLink.objects.order_by("pk").first()
        self.link_member, self.link = link.member_id, link.pk
        self.appointment = Appointment.objects.order_by("pk").first().pk
        visit = Visit.objects.order_by("pk").first()
        self.visit = visit.pk if visit else 1
        line = ChargeLine.objects.order_by("pk").first()
        self.line = line.pk if line else 1
        self.batch = CouponBatch.objects.order_by("pk").first().pk
        self.outbox = Outbox.objects.order_by("pk").first().pk
        from marketing.consultation_models import Consultation

        self.consultation = Consultation.objects.order_by("pk").first().pk
        from marketing.models import Partner, Statement

        partner = Partner.objects.filter(contacts__isnull=False, terms__isnull=False).order_by("pk").first()
        self.partner, self.contact, self.term = (
            partner.pk,
            partner.contacts.first().pk,
            partner.terms.first().pk,
        )
        self.statement = Statement.objects.filter(status="open").order_by("pk").first().pk
        from django.utils import timezone

        from marketing.models import Campaign

        campaign = Campaign.objects.filter(ends_at__gt=timezone.now()).order_by("pk").first()
        self.campaign = campaign.pk if campaign else 1
        from clinic.models import ServiceItem
        from marketing.models import CampaignPrice

        price = (
            CampaignPrice.objects.get_or_create(
                campaign=campaign, item=ServiceItem.objects.get(code="PV02"), defaults={"price": 100}
            )[0]
            if campaign
            else None
        )
        self.campaign_price = price.pk if price else 1
        from followups.models import Task

        task = Task.objects.filter(status="open").order_by("pk").first()
        self.task = task.pk if task else 1
        from complaints import services as complaint_services
        from complaints.models import Complaint

        complaint = Complaint.objects.get(source_key="demo:investigating")
        self.complaint = complaint.pk
        self.make_good = complaint_services.make_good_request(
            actor=None, complaint=complaint, kind="points", points=20_000
        ).pk  # over the limit: waits for a manager
        from inventory.models import Batch, Item

        self.stock_item = Item.objects.order_by("pk").first().pk
        self.stock_batch = Batch.objects.filter(lot_number="AN2601X").first().pk

    def clinical_pk(self, name: str, route: str) -> int:
        from clinical.models import ClinicalNote, TreatmentPlan

        note = ClinicalNote.objects.order_by("pk").first()
        plan = TreatmentPlan.objects.order_by("pk").first()
        if "clinical/members/" in route:
            return plan.member_id if plan else self.member
        if "clinical/visits/" in route:
            return note.visit_id if note else self.visit
        if "clinical/notes/" in route:
            return note.pk if note else 1
        if "clinical/plans/" in route:
            return plan.pk if plan else 1
        return 1  # attachments: the demo has none; the malformed-id probes cover the view

    def complaints_pk(self, name: str) -> int:
        if name == "complaints:make_good_decide":
            return self.make_good
        if name == "complaints:attachment":
            return 1  # the demo has no attachment: the malformed-id probes cover the view
        return self.complaint

    def marketing_pk(self, name: str, route: str) -> int:
        if "attribution" in name:
            return self.member
        if route.startswith("marketing/consultations"):
            return self.consultation
        if route.startswith("marketing/statements"):
            return self.statement
        if route.startswith("marketing/campaigns"):
            return self.campaign
        return self.partner

    def kwargs(self, name: str, route: str) -> dict | None:
        """URL kwargs for a pattern, or None when the test cannot build it."""
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        app = name.split(":")[0]
        if app == "portal":
            from tests.portal.world import portal_url_kwargs

            return portal_url_kwargs(name, self.member)
        out = {}
        for key in names:
            if key == "pk":
                out[key] = {
                    "members": self.link_member if "family_remove" in name else self.member,
                    "loyalty": self.batch if "batch" in name else self.member,
                    "appointments": self.visit
                    if route.startswith("appointments/visits")
                    else self.appointment,
                    "notifications": self.outbox,
                    "marketing": self.marketing_pk(name, route),
                    "followups": self.task,
                    "complaints": self.complaints_pk(name),
                    "inventory": self.stock_batch if "batch" in name else self.stock_item,
                    "clinical": self.clinical_pk(name, route) if app == "clinical" else 1,
                }.get(app, 1)
                if name in ("members:import_detail", "members:import_confirm", "members:import_mapping"):
                    out[key] = 1
            elif key == "other":
                out[key] = self.other
            elif key == "consent_id":
                out[key] = self.consent
            elif key == "link_id":
                out[key] = self.link
            elif key == "line_id":
                out[key] = self.line
            elif key == "contact_id":
                out[key] = self.contact
            elif key == "term_id":
                out[key] = self.term
            elif key in ("rid",):
                out[key] = 1
            elif key == "field":
                out[key] = "phone"
            elif key == "fmt":
                out[key] = "json"
            elif key == "action":
                out[key] = "confirm"
            elif key == "code":
                out[key] = "visits"  # reports:drill, a dashboard tile
            elif key == "ext":
                out[key] = "xlsx"  # reports' exports
            elif key in ("year", "month"):
                from django.utils import timezone

                from reports.dashboard import _shift_month

                last = _shift_month(timezone.localdate().replace(day=1), -1)  # closed by the demo
                out[key] = last.year if key == "year" else last.month
            elif key == "step":
                out[key] = "note"  # complaints:act
            elif key == "decision":
                out[key] = "approve"  # complaints:make_good_decide
            elif key == "op":
                out[key] = "phase"  # clinical:plan_act
            elif key == "token":
                from clinic.models import Branch
                from followups.recall_demo import demo_invitation
                from followups.surveys import survey_token

                out[key] = survey_token(demo_invitation(Branch.objects.get(code="JA")))
            elif key == "event_token":
                from clinic.models import Branch
                from followups.event_survey_demo import demo_event_invitation
                from followups.event_surveys import event_survey_token

                out[key] = event_survey_token(demo_event_invitation(Branch.objects.get(code="JA")))
            elif key == "tag_id":
                from members.models import Tag

                out[key] = Tag.objects.get_or_create(name="坏输入标签")[0].pk
            elif key == "price_id":
                out[key] = self.campaign_price
            elif key == "unsub_token":
                from clinic.notifications.unsubscribe import unsubscribe_token

                out[key] = unsubscribe_token("sms", "+8613900000000")
            elif key == "provider":
                out[key] = "tencent"
            elif key == "kind":
                out[key] = "reply"
            elif key == "inbound_token":
                out[key] = "inbound-test-token"
            elif key in ("object_id", "id"):
                model = _admin_model(name)
                obj = model.objects.order_by("pk").first() if model else None
                # An admin table the demo leaves empty has no object pages to visit.
                out[key] = str(obj.pk) if obj else EMPTY
            elif key in ("app_label",):
                out[key] = "members"
            else:
                return None
        return out


EMPTY = object()


def _admin_model(name: str):
    match = re.match(r"admin:(\w+?)_(\w+)_(change|delete|history|password_change)$", name)
    if not match:
        return None
    for model in apps.get_models():
        if f"{model._meta.app_label}_{model._meta.model_name}" == f"{match[1]}_{match[2]}":
            return model
    return None


def _huge_id(kwargs: dict) -> dict:
    return {k: (10**30 if isinstance(v, int) else v) for k, v in kwargs.items()}


def _source_params(callback) -> tuple[set[str], set[str]]:
    func = inspect.unwrap(getattr(callback, "view_class", callback))
    module = sys.modules.get(func.__module__)
    try:
        source = inspect.getsource(module) if module else ""
    except (OSError, TypeError):
        source = ""
    return set(GET_PARAM.findall(source)), set(POST_PARAM.findall(source))


def _row_counts() -> dict[str, int]:
    tables = sorted(
        m._meta.db_table for m in apps.get_models() if m._meta.managed and m._meta.app_label in PROJECT_APPS
    )
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables))
        return dict(zip(tables, cur.fetchone(), strict=True))


class Probe:
    def __init__(self, client: Client):
        self.client = client
        self.failures: list[str] = []
        self.requests = 0
        self.names: dict[str, str] = {}

    def send(self, method: str, url: str, data=None, *, check_rows: bool = False) -> object:
        """One request in a savepoint that is always rolled back: every request sees the same
        world. With ``check_rows``, a response other than a redirect must have written nothing."""
        check_rows = check_rows and self.names.get(url) not in SUCCESS_IS_200
        self.requests += 1
        changed = {}
        try:
            with transaction.atomic():
                before = _row_counts() if check_rows else None
                response = getattr(self.client, method)(url, data or {})
                if check_rows and response.status_code not in (301, 302, 303):
                    after = _row_counts()
                    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
                transaction.set_rollback(True)
        except Exception:
            self.failures.append(f"{method.upper()} {url} {_short(data)}\n{traceback.format_exc(limit=-3)}")
            return None
        if response.status_code >= 500:
            exc = getattr(response, "exc_info", None)
            where = "".join(traceback.format_exception(*exc, limit=-3)) if exc else ""
            self.failures.append(f"{method.upper()} {url} {_short(data)} -> {response.status_code}\n{where}")
        elif changed:
            self.failures.append(
                f"POST {url} {_short(data)} -> {response.status_code} but wrote rows: {changed}"
            )
        return response


def _short(data) -> str:
    text = repr(dict(data or {}))
    return text if len(text) < 300 else text[:300] + "…"


@pytest.fixture
def quiet_logs():
    # Thousands of refused requests log a warning each; the failures list says what matters.
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


# The URLs are dealt into shards by a hash of their name, so that the shards can run on
# separate workers (pytest -n) and every URL is in exactly one of them.
SHARDS = 4


@pytest.mark.django_db
@pytest.mark.parametrize("shard", range(SHARDS))
def test_hostile_input_to_every_url_never_gives_a_500_or_a_half_saved_row(quiet_logs, shard):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="hqadmin")
    client = Client(raise_request_exception=False)
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    verify_two_factor(client, admin)
    world = World()
    from tests.portal.conftest import portal_login

    portal_login(client, world.portal_phone)
    probe = Probe(client)

    patterns = [
        (route, name, p)
        for route, name, p in walk()
        if name.split(":")[-1] not in SKIP_NAMES
        and not route.startswith(SKIP_PREFIXES)
        and zlib.crc32(name.encode()) % SHARDS == shard
        # BAD_INPUT_ONLY=followups,admin:followups_ narrows a run to some URL names (a quick
        # check while working on them; the whole run is the one that counts).
        and (not ONLY or name.startswith(ONLY))
    ]
    urls: dict[str, tuple[str, object]] = {}
    unbuilt = []
    huge_ids: set[str] = set()  # malformed ids in the path: one plain GET and POST each
    for route, name, p in patterns:
        kwargs = world.kwargs(name, route)
        if kwargs is None:
            unbuilt.append(name)
            continue
        if EMPTY in kwargs.values():
            continue
        urls[reverse(name, kwargs=kwargs)] = (name, p.callback)
        if kwargs and not name.startswith("admin:"):
            huge_ids.add(reverse(name, kwargs=_huge_id(kwargs)))
    probe.names = {url: name for url, (name, _cb) in urls.items()}

    # 1. Every page as it is, and the forms on it.
    get_params: dict[str, set[str]] = defaultdict(set)
    post_forms: dict[str, list[dict]] = defaultdict(list)
    html_pages: set[str] = set()
    for url, (_name, callback) in urls.items():
        g, p = _source_params(callback)
        get_params[url] |= g
        post_forms[url].append({f: [""] for f in p})
        response = probe.send("get", url)
        if response is None or "html" not in response.get("Content-Type", ""):
            continue
        html_pages.add(url)
        parser = FormParser()
        parser.feed(response.content.decode("utf-8", "replace"))
        for form in parser.forms:
            target = urlsplit(form["action"]).path or url
            if form["method"] == "get":
                get_params[target] |= set(form["fields"])
            else:
                post_forms[target].append(dict(form["fields"]))

    for url in huge_ids:
        probe.send("get", url)
        probe.send("post", url, {"x": "1"})

    # 2. Hostile query parameters (files and PDFs, slow to make, get the first few values).
    for url, (name, _cb) in urls.items():
        if re.search(r"_(history|delete|password_change)$", name):
            continue  # admin pages that read no query parameters: their plain GET was enough
        params = get_params[url] | {"page", "q"}
        for value in HOSTILE if url in html_pages else HOSTILE[:4]:
            probe.send("get", url + "?" + urlencode(dict.fromkeys(sorted(params), value)))

    # 3. Hostile form posts: every field at once, then one field at a time.
    for url in urls:
        for form in post_forms[url]:
            fields = [f for f in form if f not in KEEP_FIELDS]
            if not fields:
                continue
            for value in HOSTILE:
                probe.send("post", url, dict.fromkeys(fields, value), check_rows=True)
            baseline = {f: v for f, v in form.items() if f not in KEEP_FIELDS}
            if url.startswith("/admin/") or not any(v for v in baseline.values()):
                continue
            for field in fields:
                for value in HOSTILE_PER_FIELD:
                    probe.send("post", url, {**baseline, field: value}, check_rows=True)

    print(f"{len(urls)} URLs, {probe.requests} requests")
    distinct = {f.strip().splitlines()[-1] + f.split(" ")[1][:25]: f for f in probe.failures}
    assert not probe.failures, f"{len(probe.failures)} failures, {len(distinct)} distinct:\n" + "\n\n".join(
        list(distinct.values())[:40]
    )
    assert not unbuilt, f"add URL arguments for: {unbuilt}"
    assert ONLY or probe.requests > 1000 // SHARDS, probe.requests
