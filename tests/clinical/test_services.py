"""Clinical services: the chart (FDI, append-only, as of a date), encrypted notes with
amendments and audited reads, attachments by content, plans with review, acceptance, versions,
execution on visits and completion, tracing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from appointments import checkout
from appointments.models import ChargeLine
from clinic.models import AuditLog
from clinical import selectors, services, tracing
from clinical.errors import ClinicalError
from clinical.models import PlanStatus, PlanType, ReviewSettings
from clinical.signals import plan_accepted, plan_completed
from tests.appointments.factories import at

from .conftest import open_visit

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
PDF = b"%PDF-1.4\n" + bytes(32)


# --- chart -----------------------------------------------------------------------------------


def test_fdi_numbers_are_checked(doc, member, visit):
    for bad in (19, 10, 49, 56, 91, 9, 86):
        with pytest.raises(ClinicalError) as err:
            services.findings_record(actor=doc, member=member, visit=visit, teeth=[bad], kind="missing")
        assert err.value.field == "teeth"
    rows = services.findings_record(
        actor=doc, member=member, visit=visit, teeth=[55, 85, 11, 48], kind="sound"
    )
    assert sorted(r.tooth for r in rows) == [11, 48, 55, 85]


def test_finding_shapes(doc, member, visit):
    with pytest.raises(ClinicalError) as err:
        services.findings_record(actor=doc, member=member, visit=visit, teeth=[16], kind="caries")
    assert err.value.field == "surfaces"
    with pytest.raises(ClinicalError) as err:
        services.findings_record(
            actor=doc, member=member, visit=visit, teeth=[16], kind="mobility", mobility=4
        )
    assert err.value.field == "mobility"
    with pytest.raises(ClinicalError) as err:
        services.findings_record(
            actor=doc, member=member, visit=visit, teeth=[16], kind="pocket", pockets=[3, 3]
        )
    assert err.value.field == "pockets"
    rows = services.findings_record(
        actor=doc, member=member, visit=visit, teeth=[16, 17], kind="caries", surfaces=["O", "M"]
    )
    assert len(rows) == 4  # per tooth and surface
    (crown,) = services.findings_record(
        actor=doc, member=member, visit=visit, teeth=[26], kind="crown", surfaces=["O"]
    )
    assert crown.surface == ""  # a crown covers the whole tooth


def test_front_desk_may_not_chart(front_desk, member, visit):
    with pytest.raises(ClinicalError):
        services.findings_record(actor=front_desk, member=member, visit=visit, teeth=[16], kind="missing")


def test_chart_as_of_shows_the_chart_as_it_was(doc, member, visit, clock):
    first = at(-30, 10)
    services.findings_record(
        actor=doc, member=member, visit=None, teeth=[16], kind="caries", surfaces=["O"], at=first
    )
    services.findings_record(
        actor=doc, member=member, visit=None, teeth=[31], kind="mobility", mobility=2, at=first
    )
    services.findings_record(actor=doc, member=member, visit=visit, teeth=[16], kind="filled", surfaces=["O"])
    services.findings_record(actor=doc, member=member, visit=visit, teeth=[31], kind="mobility", mobility=1)
    then = {(f.tooth, f.kind) for f in selectors.chart_as_of(member.pk, at(-29, 0))}
    now = {(f.tooth, f.kind) for f in selectors.chart_as_of(member.pk)}
    assert then == {(16, "caries"), (31, "mobility")}
    assert now == {(16, "filled"), (31, "mobility")}
    assert selectors.chart_as_of(member.pk, at(-31, 0)) == []
    grid = selectors.chart_grid(selectors.chart_as_of(member.pk), primary=False)
    tooth16 = next(t for q in grid for t in q if t.tooth == 16)
    assert tooth16.surfaces == {"O": "filled"} and "16" in tooth16.label
    assert selectors.chart_asof_sql(member.pk, at(-29, 0))  # the benchmark floor agrees it is there


# --- notes -----------------------------------------------------------------------------------


def test_note_is_encrypted_at_rest_and_one_per_visit(doc, visit):
    note = services.note_write(
        actor=doc, visit=visit, chief_complaint="右下后牙痛", diagnosis="46 急性牙髓炎"
    )
    with connection.cursor() as cur:
        cur.execute("SELECT chief_complaint, diagnosis FROM clinical_clinicalnote WHERE id = %s", [note.pk])
        raw = cur.fetchone()
    # Fernet tokens are URL-safe base64: no CJK can appear in them, while short digit runs
    # such as "46" can by chance, so the check is on the Chinese text.
    assert "右下后牙痛" not in raw[0] and "急性牙髓炎" not in raw[1]
    assert raw[0].startswith("gAAAA") and raw[1].startswith("gAAAA")
    with pytest.raises(ClinicalError):
        services.note_write(actor=doc, visit=visit, diagnosis="again")


def test_empty_note_refused(doc, visit):
    with pytest.raises(ClinicalError):
        services.note_write(actor=doc, visit=visit)


def test_amendment_keeps_the_original(doc, visit):
    note = services.note_write(actor=doc, visit=visit, diagnosis="46 深龋")
    with pytest.raises(ClinicalError) as err:
        services.note_amend(actor=doc, note=note, reason="", diagnosis="46 牙髓炎")
    assert err.value.field == "reason"
    with pytest.raises(ClinicalError):
        services.note_amend(actor=doc, note=note, reason="复核", diagnosis="46 深龋")
    services.note_amend(actor=doc, note=note, reason="复核影像", diagnosis="46 牙髓炎")
    note.refresh_from_db()
    assert note.diagnosis == "46 深龋"
    assert services.note_current(note)["diagnosis"] == "46 牙髓炎"
    assert note.amendments.get().reason == "复核影像"


def test_reading_another_doctors_patient_is_audited(doc, doctor, visit):
    note = services.note_write(actor=doc, visit=visit, diagnosis="46 深龋")
    services.notes_read(actor=doc, member=visit.member, notes=[note])
    assert not AuditLog.objects.filter(action="clinical.note.viewed").exists()
    services.notes_read(actor=doctor, member=visit.member, notes=[note])
    row = AuditLog.objects.get(action="clinical.note.viewed")
    assert row.actor == doctor and row.changes["notes"] == [note.pk]


# --- attachments -----------------------------------------------------------------------------


def test_attachment_checked_by_content(doc, member, settings):
    att = services.attachment_add(
        actor=doc, member=member, kind="xray", upload=SimpleUploadedFile("p.png", PNG)
    )
    assert att.content_type == "image/png"
    assert str(settings.CLINICAL_PRIVATE_ROOT) in att.file.path
    assert str(settings.MEDIA_ROOT) not in att.file.path
    for name, data in (("fake.png", PDF), ("x.exe", b"MZ" + bytes(30)), ("doc.pdf", PNG), ("e.png", b"")):
        with pytest.raises(ClinicalError) as err:
            services.attachment_add(
                actor=doc, member=member, kind="xray", upload=SimpleUploadedFile(name, data)
            )
        assert err.value.field == "file"
    settings.CLINICAL_ATTACHMENT_MAX_MB = 0
    with pytest.raises(ClinicalError, match="MB"):
        services.attachment_add(
            actor=doc, member=member, kind="consent", upload=SimpleUploadedFile("c.pdf", PDF)
        )


# --- plans -----------------------------------------------------------------------------------


def _plan(doc, member, *items, type_code="general"):
    plan = services.plan_create(
        actor=doc,
        member=member,
        plan_type=PlanType.objects.get(code=type_code),
        title="方案",
        estimated_weeks=6,
    )
    phase = plan.phases.get()
    for item, teeth, group in items:
        services.plan_item_add(
            actor=doc, plan=plan, phase=phase, item=item, teeth=teeth, alternative_group=group
        )
    return plan


def test_quote_counts_the_chosen_alternative_only(doc, member, implant, crown, filling):
    plan = _plan(doc, member, (filling, [16, 17], ""), (implant, [36], "36"), (crown, [35, 36, 37], "36"))
    quote = selectors.plan_quote(plan)
    assert quote.total == Decimal("7600.00")  # 2 fillings + the implant
    bridge = plan.items.get(item=crown)
    services.plan_choose_alternative(actor=doc, item=bridge)
    assert selectors.plan_quote(plan).total == Decimal("14300.00")  # 2 fillings + 3 crowns


def test_quote_uses_the_checkout_pricing(doc, member, filling, monkeypatch):
    from appointments import integration

    monkeypatch.setattr(
        integration, "tier_pricing", lambda m, cats: ({c.pk: Decimal("10") for c in cats}, "金卡折扣")
    )
    plan = _plan(doc, member, (filling, [16], ""))
    quote = selectors.plan_quote(plan)
    assert (quote.list_total, quote.discount_total, quote.total, quote.tier_label) == (
        Decimal("400.00"),
        Decimal("40.00"),
        Decimal("360.00"),
        "金卡折扣",
    )


def test_review_routing(doc, member, implant, filling):
    general = _plan(doc, member, (filling, [16], ""))
    assert services.plan_submit(actor=doc, plan=general).status == PlanStatus.APPROVED
    typed = _plan(doc, member, (filling, [16], ""), type_code="implant")
    typed = services.plan_submit(actor=doc, plan=typed)
    assert (typed.status, typed.review_reasons) == (PlanStatus.IN_REVIEW, ["type"])
    ReviewSettings.objects.update(threshold=300)
    costly = services.plan_submit(actor=doc, plan=_plan(doc, member, (filling, [16], "")))
    assert costly.review_reasons == ["value"]
    ReviewSettings.objects.update(threshold=100000)
    ReviewSettings.objects.get().categories.set([implant.category])
    by_category = services.plan_submit(actor=doc, plan=_plan(doc, member, (implant, [36], "")))
    assert by_category.review_reasons == ["category"]


def test_review_by_a_senior_doctor_only(doc, senior, member, filling):
    plan = services.plan_submit(actor=doc, plan=_plan(doc, member, (filling, [16], ""), type_code="implant"))
    with pytest.raises(ClinicalError):
        services.plan_review(actor=doc, plan=plan, approve=True)  # a doctor
    with pytest.raises(ClinicalError):
        services.plan_present(actor=doc, plan=plan)  # not approved yet
    with pytest.raises(ClinicalError) as err:
        services.plan_review(actor=senior, plan=plan, approve=False)
    assert err.value.field == "comment"
    plan = services.plan_review(actor=senior, plan=plan, approve=False, comment="先做牙周治疗")
    assert plan.status == PlanStatus.RETURNED
    plan = services.plan_submit(actor=doc, plan=plan)
    plan = services.plan_review(actor=senior, plan=plan, approve=True)
    assert plan.status == PlanStatus.APPROVED
    assert [r.decision for r in plan.reviews.all()] == ["submitted", "returned", "submitted", "approved"]


def test_a_senior_doctor_does_not_review_their_own_plan(senior, member, filling):
    plan = services.plan_submit(
        actor=senior, plan=_plan(senior, member, (filling, [16], ""), type_code="implant")
    )
    with pytest.raises(ClinicalError):
        services.plan_review(actor=senior, plan=plan, approve=True)


def test_accept_then_change_makes_a_new_version(
    doc, member, filling, implant, django_capture_on_commit_callbacks
):
    plan = services.plan_submit(actor=doc, plan=_plan(doc, member, (filling, [16], ""), (implant, [36], "")))
    services.plan_present(actor=doc, plan=plan)
    heard = []
    plan_accepted.connect(lambda sender, plan, **kw: heard.append(plan.pk), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            plan = services.plan_accept(actor=doc, plan=plan)
    finally:
        plan_accepted.disconnect(dispatch_uid="t")
    assert heard == [plan.pk] and plan.quote_total == Decimal("7200.00")
    with pytest.raises(ClinicalError):
        services.plan_item_add(actor=doc, plan=plan, phase=plan.phases.get(), item=filling, teeth=[26])
    new = services.plan_new_version(actor=doc, plan=plan)
    plan.refresh_from_db()
    assert (plan.status, new.version, new.previous_id, new.status) == (
        PlanStatus.SUPERSEDED,
        2,
        plan.pk,
        PlanStatus.DRAFT,
    )
    assert new.items.count() == 2


def test_items_become_charge_lines_and_checkout_completes_the_plan(
    doc, member, filling, front_desk, branch, service, django_capture_on_commit_callbacks, clock
):
    plan = services.plan_submit(actor=doc, plan=_plan(doc, member, (filling, [16], ""), (filling, [26], "")))
    services.plan_present(actor=doc, plan=plan)
    plan = services.plan_accept(actor=doc, plan=plan)
    first, second = plan.items.order_by("pk")
    visit1 = open_visit(front_desk, branch, member, service, doc, hour=10)
    link = services.plan_item_charge(actor=doc, item=first, visit=visit1)
    assert link.charge_line.teeth == [16] and link.charge_line.unit_price == Decimal("400.00")
    with pytest.raises(ClinicalError):
        services.plan_item_charge(actor=doc, item=first, visit=visit1)  # once
    progress = selectors.plan_progress(plan)
    assert (len(progress.in_progress), len(progress.remaining)) == (1, 1)
    ChargeLine.objects.filter(visit=visit1).exclude(pk=link.charge_line_id).delete()
    with django_capture_on_commit_callbacks(execute=True):
        checkout.visit_checkout(
            actor=front_desk, visit=visit1, payments=[("cash", Decimal("400"))], checkout_key="p1"
        )
    progress = selectors.plan_progress(plan)
    assert (len(progress.done), len(progress.remaining), progress.paid) == (1, 1, Decimal("400.00"))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACCEPTED
    visit2 = open_visit(front_desk, branch, member, service, doc, hour=15)
    services.plan_item_charge(actor=doc, item=second, visit=visit2)
    ChargeLine.objects.filter(visit=visit2, plan_charge__isnull=True).delete()
    heard = []
    plan_completed.connect(lambda sender, plan, **kw: heard.append(plan.pk), weak=False, dispatch_uid="t2")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            checkout.visit_checkout(
                actor=front_desk, visit=visit2, payments=[("cash", Decimal("400"))], checkout_key="p2"
            )
    finally:
        plan_completed.disconnect(dispatch_uid="t2")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED and heard == [plan.pk]


def test_only_accepted_plans_are_carried_out(doc, member, filling, visit):
    plan = _plan(doc, member, (filling, [16], ""))
    with pytest.raises(ClinicalError):
        services.plan_item_charge(actor=doc, item=plan.items.get(), visit=visit)


# --- tracing ---------------------------------------------------------------------------------


def test_trace_by_plan_type_and_doctor(
    doc,
    doc2,
    member,
    filling,
    front_desk,
    branch,
    service,
    django_capture_on_commit_callbacks,
    manager,
    clock,
):
    plan = services.plan_submit(actor=doc, plan=_plan(doc, member, (filling, [16], "")))
    services.plan_present(actor=doc, plan=plan)
    plan = services.plan_accept(actor=doc, plan=plan)
    visit = open_visit(front_desk, branch, member, service, doc, hour=10)
    services.plan_item_charge(actor=doc, item=plan.items.get(), visit=visit)
    with django_capture_on_commit_callbacks(execute=True):
        checkout.visit_checkout(
            actor=front_desk, visit=visit, payments=[("cash", Decimal("400"))], checkout_key="t1"
        )
    visit.refresh_from_db()
    day = timezone.localtime(visit.checked_out_at).date()
    general = PlanType.objects.get(code="general")
    rows = tracing.trace_rows(
        tracing.trace_lines(manager, date_from=day, date_to=day, values={"plan_type": general})
    )
    assert [r["member"].pk for r in rows] == [member.pk]
    assert "*" in r_phone(rows) and rows[0]["services"] == ["树脂补牙（16）"]
    implant = PlanType.objects.get(code="implant")
    assert (
        tracing.trace_rows(
            tracing.trace_lines(manager, date_from=day, date_to=day, values={"plan_type": implant})
        )
        == []
    )
    assert (
        tracing.trace_rows(tracing.trace_lines(manager, date_from=day, date_to=day, values={"doctor": doc2}))
        == []
    )
    assert (
        len(
            tracing.trace_rows(
                tracing.trace_lines(manager, date_from=day, date_to=day, values={"doctor": doc})
            )
        )
        == 1
    )
    before = day - dt.timedelta(days=1)
    assert tracing.trace_rows(tracing.trace_lines(manager, date_from=before, date_to=before, values={})) == []


def r_phone(rows):
    return rows[0]["phone"]


def test_trace_filters_are_a_registry():
    keys = [f.key for f in tracing.trace_filters()]
    assert keys[:2] == ["plan_type", "doctor"]
