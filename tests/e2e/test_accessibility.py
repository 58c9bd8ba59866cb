"""Accessibility of every staff page: axe-core (WCAG 2 A and AA rules) finds no serious or
critical violation on any page a role can open, at a desk screen (1280 px) and, for the
front desk, on a phone (390 px), where no page is wider than the screen either.

The pages come from the URL configuration: every named pattern is requested as each role
over one shared demo world (the ``seed_demo`` clinic, plus a reward redemption and an import
job), and what answers with a full HTML page is audited; the others are classified (POST
only, a file, an htmx fragment, a redirect, refused) and the classification is printed, so
nothing is skipped silently. A pattern whose arguments cannot be built fails the test.
axe-core is loaded from node_modules (package.json), never from a CDN."""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.appointments.factories import at
from tests.e2e.conftest import SCREENSHOTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
DEMO_PASSWORD = "Demo@2026"
# role → the seed_demo login of that role at the 静安 branch
ROLES = {
    "front_desk": "frontdesk",
    "consultant": "consultant",
    "doctor": "doctor",
    "nurse": "nurse",
    "customer_service": "service",
    "marketing": "marketing",
    "branch_manager": "manager",
    "hq_admin": "hqadmin",
    "stock_keeper": "stock",
}
MANAGERS = {"branch_manager", "hq_admin"}
# Not pages of the staff UI: the log-in flow, language and JS catalogue, probes, the admin
# (audited separately, index and change lists, for managers).
OUTSIDE = {"login", "logout", "set_language", "javascript-catalog", "healthz", "favicon"}

AXE_RUN = """async () => {
  const r = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}, resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map(n => n.target.join(' ') + ' — ' +
      (n.failureSummary || '').split('\\n').slice(1, 2).join(' ').trim())}));
}"""


@pytest.fixture
def world(request, db):
    """The demo clinic on Monday 2026-12-07 at 11:00 (today's bookings in every state, a
    visit in treatment waiting for checkout, members with cards, coupons and a printed batch,
    rewards, outbox messages), plus a redeemed reward and an import job waiting for review."""
    from appointments.models import Appointment, ChargeLine, Visit
    from clinic.models import Branch
    from clinic.notifications.models import Outbox
    from loyalty.coupon_models import CouponBatch, RewardItem
    from loyalty.models import PointsAccount
    from loyalty.rewards import reward_redeem
    from loyalty.services import membership_enrol, points_adjust
    from marketing.consultation_models import Consultation
    from members.importer import import_job_create
    from members.models import Consent, FamilyLink, Member

    clock = time_machine.travel(at(0, 11), tick=True)
    clock.start()
    request.addfinalizer(clock.stop)
    call_command("seed_demo", quiet=True)
    ja = Branch.objects.get(code="JA")
    from django.contrib.auth import get_user_model

    manager = get_user_model().objects.get(username="manager")
    visit = Visit.objects.filter(branch=ja, status="open", lines__isnull=False).first()
    assert visit is not None, "the demo has a visit in treatment"
    member = visit.member
    if not PointsAccount.objects.filter(member=member, is_open=True).exists():
        membership_enrol(actor=None, member=member, branch=ja, welcome_points=0)
    item = RewardItem.objects.get(name="漱口水礼盒")
    points_adjust(actor=manager, member=member, points=item.points_cost, reason="无障碍测试")
    redemption = reward_redeem(actor=manager, member=member, item=item)
    job = import_job_create(
        actor=manager,
        branch=ja,
        upload=SimpleUploadedFile("old.csv", "姓名,手机号,性别\n陈静,13800007777,女\n".encode()),
    )
    mapping_job = import_job_create(
        actor=manager,
        branch=ja,
        upload=SimpleUploadedFile(
            "old-a.csv", "客户名称,联系电话,会员等级\n陈静,13800007778,金卡\n".encode()
        ),
    )
    assert mapping_job.status == "mapping", mapping_job.message
    from django.utils import timezone as tz

    from reports import export_jobs
    from reports.export_models import ExportJob

    today = tz.localdate()
    export_job = ExportJob.objects.create(
        requested_by=manager,
        branch=ja,
        code="visits",
        period="mtd",
        lo=today.replace(day=1),
        hi=today + dt.timedelta(days=1),
        fmt="csv",
    )
    export_jobs.export_job_run(export_job.pk)
    family = FamilyLink.objects.filter(member__branch=ja).first()
    from followups.event_survey_demo import demo_event_invitation
    from followups.event_surveys import event_survey_token
    from followups.models import Recall, Task
    from followups.recall_demo import demo_invitation
    from followups.surveys import survey_token
    from marketing.models import Partner, Statement
    from reports.close_models import MonthClose

    partner = Partner.objects.filter(branch=ja, contacts__isnull=False, terms__isnull=False).first()
    assert partner is not None, "the demo has referral partners with contacts and terms"
    from complaints import services as complaint_services
    from complaints.models import Complaint
    from marketing.models import Broadcast, Segment

    complaint = Complaint.objects.get(source_key="demo:investigating")
    service = get_user_model().objects.get(username="service")
    make_good = complaint_services.make_good_request(
        actor=service, complaint=complaint, kind="points", points=20_000
    )
    attachment = complaint_services.attachment_add(
        actor=service,
        complaint=complaint,
        upload=SimpleUploadedFile("现场照片.png", b"\x89PNG\r\n\x1a\n" + bytes(32), content_type="image/png"),
    )
    from clinic.models import ServiceItem
    from clinical import services as clinical_services
    from clinical.demo import ACCEPTED_TITLE
    from clinical.models import ClinicalNote, TreatmentPlan
    from inventory.models import Batch, Item
    from marketing.campaign_demo import UPCOMING
    from marketing.models import Campaign, CampaignPrice
    from members.models import Tag

    plan = TreatmentPlan.objects.get(title=ACCEPTED_TITLE)
    clinical_attachment = clinical_services.attachment_add(
        actor=get_user_model().objects.get(username="doctor"),
        member=plan.member,
        kind="intraoral",
        upload=SimpleUploadedFile("口内照.png", b"\x89PNG\r\n\x1a\n" + bytes(32), content_type="image/png"),
    )
    return {
        "clinical_plan": plan,
        "clinical_note": ClinicalNote.objects.filter(member=plan.member).order_by("pk").first(),
        "clinical_attachment": clinical_attachment,
        "campaign": Campaign.objects.filter(branch=ja, name=UPCOMING).first(),
        "tag": Tag.objects.get_or_create(name="无障碍标签")[0],
        "campaign_price": CampaignPrice.objects.get_or_create(
            campaign=Campaign.objects.filter(branch=ja, name=UPCOMING).first(),
            item=ServiceItem.objects.get(code="PV02"),
            defaults={"price": 100},
        )[0],
        "segment": Segment.objects.filter(branch=ja).order_by("pk").first(),
        "broadcast": Broadcast.objects.filter(branch=ja).order_by("pk").first(),
        "complaint": complaint,
        "make_good": make_good,
        "attachment": attachment,
        "partner": partner,
        "contact": partner.contacts.first(),
        "term": partner.terms.first(),
        "statement": Statement.objects.filter(partner__branch=ja).order_by("status", "-month").first(),
        "task": Task.objects.filter(branch=ja, status="open").order_by("due_on", "pk").first(),
        "recall": Recall.objects.filter(branch=ja).first(),
        "survey_token": survey_token(demo_invitation(ja)),
        "event_survey_token": event_survey_token(demo_event_invitation(ja)),
        "member": member,
        "other": Member.objects.filter(branch=ja).exclude(pk=member.pk).first(),
        "appointment": Appointment.objects.filter(visit=visit).first(),
        "visit": visit,
        "paid_visit": Visit.objects.filter(branch=ja, status="checked_out").first(),
        "line": ChargeLine.objects.filter(visit=visit).first(),
        "consent": Consent.objects.filter(member__branch=ja).first(),
        "family": family,
        "redemption": redemption,
        "batch": CouponBatch.objects.first(),
        "outbox": Outbox.objects.filter(branch=ja).first(),
        "job": job,
        "mapping_job": mapping_job,
        "export_job": export_job,
        "consultation": Consultation.objects.filter(branch=ja).order_by("pk").first(),
        "closed_month": MonthClose.objects.filter(branch=ja).order_by("-month").first().month,
        "stock_item": Item.objects.get(code="AN01"),
        "stock_batch": Batch.objects.get(lot_number="AN2601X"),
    }


def url_kwargs(name: str, w: dict) -> dict:
    """The arguments of a named pattern, taken from the world (KeyError: not declared)."""
    from clinic.notifications.unsubscribe import unsubscribe_token

    member = {"pk": w["member"].pk}
    table = {
        "members:import_detail": {"pk": w["job"].pk},
        "members:import_confirm": {"pk": w["job"].pk},
        "members:import_mapping": {"pk": w["mapping_job"].pk},
        "members:reveal": {**member, "field": "phone"},
        "members:consent_withdraw": {"pk": w["consent"].member_id, "consent_id": w["consent"].pk},
        "members:family_remove": {"pk": w["family"].member_id, "link_id": w["family"].pk},
        "members:merge": {**member, "other": w["other"].pk},
        "members:data_export": {**member, "fmt": "json"},
        "loyalty:coupon_batch_xlsx": {"pk": w["batch"].pk},
        "loyalty:coupon_batch_pdf": {"pk": w["batch"].pk},
        "loyalty:reward_cancel": {"pk": w["redemption"].member_id, "rid": w["redemption"].pk},
        "loyalty:reward_slip": {"pk": w["redemption"].member_id, "rid": w["redemption"].pk},
        "appointments:transition": {"pk": w["appointment"].pk, "action": "confirm"},
        "appointments:receipt": {"pk": w["paid_visit"].pk},
        "appointments:void": {"pk": w["paid_visit"].pk},
        "appointments:line_remove": {"pk": w["visit"].pk, "line_id": w["line"].pk},
        "notifications:outbox_detail": {"pk": w["outbox"].pk},
        "notifications:outbox_resend": {"pk": w["outbox"].pk},
        "followups:recall_due_set": {"pk": w["recall"].pk},
        "followups:survey": {"token": w["survey_token"]},
        "followups:event_survey": {"event_token": w["event_survey_token"]},
        "notifications:unsubscribe": {"unsub_token": unsubscribe_token("sms", "+8613900000000")},
        "notifications:inbound": {
            "provider": "tencent",
            "kind": "reply",
            "inbound_token": "inbound-test-token",
        },
        "reports:drill": {"code": "visits"},
        "reports:drill_export": {"code": "visits", "ext": "xlsx"},
        "reports:export_job": {"pk": w["export_job"].pk},
        "reports:export_download": {"pk": w["export_job"].pk},
        "reports:staff_export": {"ext": "xlsx"},
        "reports:audit_log_export": {"ext": "xlsx"},
        "reports:month": {"year": w["closed_month"].year, "month": w["closed_month"].month},
        "reports:month_pdf": {"year": w["closed_month"].year, "month": w["closed_month"].month},
        "reports:month_close": {"year": w["closed_month"].year, "month": w["closed_month"].month},
        "marketing:segment_export": {"pk": w["segment"].pk, "fmt": "xlsx"},
        "complaints:act": {"pk": w["complaint"].pk, "step": "note"},
        "complaints:make_good_decide": {"pk": w["make_good"].pk, "decision": "approve"},
        "complaints:attachment": {"pk": w["attachment"].pk},
        "complaints:detail": {"pk": w["complaint"].pk},
        "members:tag_edit": {"tag_id": w["tag"].pk},
        "marketing:campaign_price_remove": {"pk": w["campaign"].pk, "price_id": w["campaign_price"].pk},
        "inventory:item": {"pk": w["stock_item"].pk},
        "inventory:batch": {"pk": w["stock_batch"].pk},
        "inventory:reorder_level": {"pk": w["stock_item"].pk},
        "clinical:visit_note": {"pk": w["clinical_note"].visit_id},
        "clinical:note": {"pk": w["clinical_note"].pk},
        "clinical:note_amend": {"pk": w["clinical_note"].pk},
        "clinical:attachment": {"pk": w["clinical_attachment"].pk},
        "clinical:plan_act": {"pk": w["clinical_plan"].pk, "op": "phase"},
    }
    if name in table:
        return table[name]
    namespace, _, short = name.partition(":")
    if namespace == "portal":  # staff are sent to the portal's log-in (tests/e2e/test_portal_*)
        from tests.portal.world import portal_url_kwargs

        return portal_url_kwargs(name, w["member"].pk)
    if namespace in {"members", "loyalty"}:
        return member
    if namespace == "marketing" and short.startswith("consult_"):
        return member if short == "consult_attribution" else {"pk": w["consultation"].pk}
    if namespace == "followups":
        return {"pk": w["task"].pk}
    if namespace == "clinical" and short.startswith("plan") and short != "plan_new":
        return {"pk": w["clinical_plan"].pk}
    if namespace == "clinical":
        return {"pk": w["clinical_plan"].member_id}
    if namespace == "appointments":
        return {
            "pk": w[
                "visit" if short in {"visit", "checkout", "void", "receipt", "materials"} else "appointment"
            ].pk
        }
    if namespace == "marketing" and short.startswith("statement_"):
        return {"pk": w["statement"].pk}
    if name == "marketing:partner_contact_remove":
        return {"pk": w["partner"].pk, "contact_id": w["contact"].pk}
    if name == "marketing:partner_term_end":
        return {"pk": w["partner"].pk, "term_id": w["term"].pk}
    if namespace == "marketing" and short.startswith("partner_"):
        return {"pk": w["partner"].pk}
    if namespace == "marketing" and short.startswith("campaign_"):
        return {"pk": w["campaign"].pk}
    if namespace == "marketing" and short.startswith(("segment_", "broadcast_")):
        return {"pk": w["segment" if short.startswith("segment_") else "broadcast"].pk}
    raise KeyError(name)


def named_patterns(resolver=None, prefix: str = "") -> list[tuple[str, list[str]]]:
    """(namespaced name, argument names) of every named pattern outside the admin."""
    found = []
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            if p.app_name == "admin":
                continue
            ns = f"{prefix}{p.namespace}:" if p.namespace else prefix
            found += named_patterns(p, ns)
        elif isinstance(p, URLPattern) and p.name:
            found.append((prefix + p.name, list(p.pattern.regex.groupindex)))
    return found


def staff_urls(w: dict) -> list[tuple[str, str]]:
    urls, undeclared = [], []
    for name, args in named_patterns():
        if name in OUTSIDE:
            continue
        try:
            kwargs = url_kwargs(name, w) if args else {}
        except KeyError:
            undeclared.append(name)
            continue
        urls.append((name, reverse(name, kwargs=kwargs)))
    assert not undeclared, f"declare how to build these URLs in url_kwargs(): {undeclared}"
    return urls


def admin_urls(user) -> list[tuple[str, str]]:
    urls = [("admin:index", reverse("admin:index"))]
    for model in admin.site._registry:
        opts = model._meta
        if user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or user.has_perm(
            f"{opts.app_label}.change_{opts.model_name}"
        ):
            name = f"admin:{opts.app_label}_{opts.model_name}_changelist"
            urls.append((name, reverse(name)))
    return urls


def classify(response) -> str:
    if response.status in (301, 302):
        return "redirect"
    if response.status in (403, 404):
        return "refused"
    if response.status == 405:
        return "post only"
    if response.status != 200:
        return f"HTTP {response.status}"
    if not response.headers.get("content-type", "").startswith("text/html"):
        return "file"
    return "page" if "<html" in response.text()[:500] else "fragment"


def audit(page, url: str) -> list[dict]:
    page.goto(url)
    page.wait_for_load_state()
    return audit_current(page)


def audit_current(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN)


def open_as(browser, base_url: str, username: str, **context_args):
    # axe is injected as an inline script, which the CSP (rightly) refuses on real pages.
    context = browser.new_context(base_url=base_url, bypass_csp=True, locale="zh-CN", **context_args)
    page = context.new_page()
    page.goto("/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda u: "/login/" not in u)
    return context, page


def report(found: dict) -> str:
    lines = []
    for (role, url), violations in found.items():
        for v in violations:
            lines.append(f"[{role}] {url}: {v['impact']} {v['id']} — {v['help']}")
            lines += [f"      {n}" for n in v["nodes"]]
    return "\n".join(lines)


# Screens the issue names, and a role that must see each of them as a page (not classified
# away as refused or a redirect).
MUST_AUDIT = {
    "front_desk": ("appointments:visit", "members:detail", "reports:cashup", "reports:frontdesk"),
    "marketing": ("loyalty:coupon_batches", "marketing:segment_edit", "marketing:broadcast_detail"),
    "branch_manager": (
        "appointments:visit",
        "members:detail",
        "loyalty:coupon_batches",
        "reports:dashboard",
        "reports:drill",
        "reports:cashup",
    ),
    "hq_admin": ("reports:hq",),
}


def test_no_serious_axe_violation_on_the_login_page(live_server, browser):
    anonymous = browser.new_context(base_url=live_server.url, bypass_csp=True, locale="zh-CN")
    found = audit(anonymous.new_page(), "/login/")
    anonymous.close()
    assert not found, report({("anonymous", "/login/"): found})


# One test per role, so that the roles' audits can run on separate workers (pytest -n).
@pytest.mark.parametrize("role", list(ROLES))
def test_no_serious_axe_violation_on_any_staff_page(live_server, browser, world, role):
    from django.contrib.auth import get_user_model

    username = ROLES[role]
    urls = staff_urls(world)
    found, kinds = {}, defaultdict(set)
    audited = 0
    context, page = open_as(browser, live_server.url, username)
    user = get_user_model().objects.get(username=username)
    role_urls = urls + (admin_urls(user) if role in MANAGERS else [])
    for name, url in role_urls:
        kind = classify(context.request.get(url, max_redirects=0))
        kinds[name].add(kind)
        if kind == "page":
            found[(role, url)] = audit(page, url)
            shoot(page, url, f"1280-{role}")
            audited += 1
    context.close()
    summary = {name: sorted(k) for name, k in sorted(kinds.items())}
    print("\n".join(f"{name}: {', '.join(k)}" for name, k in summary.items()))
    errors = {key: v for key, v in found.items() if v}
    assert not errors, f"{len(errors)} pages with serious/critical violations:\n{report(errors)}"
    assert not [n for n, k in summary.items() if any(x.startswith("HTTP") for x in k)], summary
    for name in MUST_AUDIT.get(role, ()):
        assert "page" in kinds[name], (name, kinds[name])
    assert audited >= 5, audited


# Table cells whose text is broken into lines of one or two characters (a squeezed column).
SQUEEZED = """() => [...document.querySelectorAll('td, th')].filter(cell => {
  const text = cell.innerText.trim();
  if (text.length < 4 || !cell.checkVisibility()) return false;
  const style = getComputedStyle(cell);
  const range = document.createRange();
  range.selectNodeContents(cell);
  const inner = range.getBoundingClientRect().height;
  const lines = Math.round(inner / (parseFloat(style.lineHeight) || 1.5 * parseFloat(style.fontSize)));
  return lines >= 3 && text.length / lines < 3;
}).slice(0, 3).map(cell => cell.innerText.trim().replace(/\\s+/g, ''))"""


def shoot(page, url: str, tag: str) -> None:
    """With A11Y_SCREENSHOTS=1, keep a picture of every audited page to look at."""
    if os.environ.get("A11Y_SCREENSHOTS"):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        name = url.strip("/").replace("/", "_") or "home"
        page.screenshot(path=os.path.join(SCREENSHOTS, f"a11y-{tag}-{name}.png"), full_page=True)


def test_front_desk_pages_fit_a_phone_without_violations(live_server, browser, world):
    urls = staff_urls(world)
    context, page = open_as(
        browser, live_server.url, "frontdesk", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    found, wide = {}, []
    for _name, url in urls:
        if classify(context.request.get(url, max_redirects=0)) != "page":
            continue
        found[("front_desk@390", url)] = audit(page, url)
        shoot(page, url, "390")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            wide.append(f"{url}: {width[0]} px wide in a {width[1]} px screen")
        if squeezed := page.evaluate(SQUEEZED):
            wide.append(f"{url}: table text wrapped a character or two per line: {squeezed}")
    context.close()
    errors = {key: v for key, v in found.items() if v}
    assert not wide, "\n".join(wide)
    assert not errors, f"{len(errors)} pages with serious/critical violations:\n{report(errors)}"
    assert len(found) > 15, len(found)


# How much of the branch selector's chosen name fits: [text width, room inside the select].
BRANCH_FIT = """() => {
  const select = document.getElementById('branch-switch');
  const style = getComputedStyle(select);
  const probe = document.createElement('span');
  probe.textContent = select.options[select.selectedIndex].text;
  probe.style.font = style.font;
  probe.style.whiteSpace = 'pre';
  document.body.appendChild(probe);
  const text = probe.getBoundingClientRect().width;
  probe.remove();
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const box = select.getBoundingClientRect();
  return {text, room, left: box.left, right: box.right, width: window.innerWidth};
}"""


def test_the_branch_selector_fits_a_phone(live_server, browser, world):
    context, page = open_as(
        browser, live_server.url, "hqadmin", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page.goto("/")
    page.wait_for_load_state()
    page.locator(".navbar-toggler").click()
    page.locator("#branch-switch").wait_for(state="visible")
    page.wait_for_timeout(400)  # the collapse animation
    shoot(page, "/", "390-hqadmin-menu")
    fit = page.evaluate(BRANCH_FIT)
    assert fit["left"] >= 0 and fit["right"] <= fit["width"], fit
    assert fit["text"] <= fit["room"] + 1, fit  # the branch name is not cut off
    violations = audit_current(page)
    context.close()
    assert not violations, report({("hq_admin@390 menu open", "/"): violations})
