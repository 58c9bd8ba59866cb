"""Clinical pages: happy paths, outsiders refused, read-only roles refused on POST, no-store."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clinic.models import AuditLog
from clinical import services
from clinical.models import ClinicalNote, PlanStatus, PlanType, ToothFinding
from tests.conftest import login

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


def test_chart_page_and_finding_form(doc, visit, member):
    client = login(doc)
    url = reverse("clinical:chart", args=[member.pk])
    r = client.post(url, {"visit": visit.pk, "teeth": "16 ５５", "kind": "caries", "surfaces": ["O", "M"]})
    assert r.status_code == 302
    assert ToothFinding.objects.filter(member=member).count() == 4
    r = client.get(url)
    assert r.status_code == 200 and r["Cache-Control"] == "private, no-store"
    assert 'data-tooth="16" data-condition="caries"' in r.content.decode()
    r = client.post(url, {"teeth": "19", "kind": "missing"})
    assert r.status_code == 200 and "FDI" in r.content.decode()
    r = client.get(url, {"as_of": "2020-01-01"})
    assert 'data-condition="caries"' not in r.content.decode()


@pytest.mark.parametrize("persona", ["front_desk", "marketer", "manager", "customer_service"])
def test_chart_and_notes_refused_to_non_clinical_roles(persona, request, doc, visit, member):
    note = services.note_write(actor=doc, visit=visit, diagnosis="46 深龋")
    client = login(request.getfixturevalue(persona))
    for url in (
        reverse("clinical:chart", args=[member.pk]),
        reverse("clinical:note", args=[note.pk]),
        reverse("clinical:visit_note", args=[visit.pk]),
    ):
        assert client.get(url).status_code == 403, url


def test_outsider_gets_404(outsider, doc, visit, member):
    note = services.note_write(actor=doc, visit=visit, diagnosis="46 深龋")
    client = login(outsider)
    assert client.get(reverse("clinical:note", args=[note.pk])).status_code == 404
    assert client.get(reverse("clinical:chart", args=[member.pk])).status_code == 404


def test_note_write_amend_and_history(doc, doctor, visit):
    client = login(doc)
    r = client.post(
        reverse("clinical:visit_note", args=[visit.pk]), {"diagnosis": "46 深龋", "treatment": "充填"}
    )
    note = ClinicalNote.objects.get(visit=visit)
    assert r.status_code == 302
    r = client.post(
        reverse("clinical:note_amend", args=[note.pk]),
        {"diagnosis": "46 牙髓炎", "treatment": "根管", "reason": ""},
    )
    assert r.status_code == 200 and note.amendments.count() == 0
    client.post(
        reverse("clinical:note_amend", args=[note.pk]),
        {"diagnosis": "46 牙髓炎", "treatment": "根管", "reason": "复核"},
    )
    page = client.get(reverse("clinical:note", args=[note.pk])).content.decode()
    assert "46 牙髓炎" in page and "46 深龋" in page  # current and the original in the history
    assert not AuditLog.objects.filter(action="clinical.note.viewed").exists()  # the doctor's own patient
    login(doctor).get(reverse("clinical:note", args=[note.pk]))
    assert AuditLog.objects.filter(action="clinical.note.viewed", actor=doctor).count() == 1


def test_nurse_reads_but_does_not_write_plans(nurse, doc, member):
    plan = services.plan_create(
        actor=doc, member=member, plan_type=PlanType.objects.get(code="general"), title="方案"
    )
    client = login(nurse)
    assert client.get(reverse("clinical:plan", args=[plan.pk])).status_code == 200
    assert client.post(reverse("clinical:plan_act", args=[plan.pk, "submit"])).status_code == 403
    assert client.get(reverse("clinical:plan_new", args=[member.pk])).status_code == 403


def test_attachment_served_with_no_store_and_audited(doc, member, front_desk):
    client = login(doc)
    r = client.post(
        reverse("clinical:attachment_add", args=[member.pk]),
        {"kind": "xray", "file": SimpleUploadedFile("a.png", PNG)},
    )
    assert r.status_code == 302
    att = member.clinical_attachments.get()
    r = client.get(reverse("clinical:attachment", args=[att.pk]))
    assert (
        r.status_code == 200
        and r["Cache-Control"] == "private, no-store"
        and r["Content-Type"] == "image/png"
    )
    assert AuditLog.objects.filter(action="clinical.attachment.viewed").count() == 1
    assert login(front_desk).get(reverse("clinical:attachment", args=[att.pk])).status_code == 403
    r = client.post(
        reverse("clinical:attachment_add", args=[member.pk]),
        {"kind": "xray", "file": SimpleUploadedFile("a.png", b"GIF89a" + bytes(20))},
    )
    assert r.status_code == 200 and member.clinical_attachments.count() == 1


def test_plan_editor_review_queue_and_pdf(doc, senior, member, implant):
    client = login(doc)
    r = client.post(
        reverse("clinical:plan_new", args=[member.pk]),
        {"plan_type": PlanType.objects.get(code="implant").pk, "title": "种植", "estimated_weeks": 12},
    )
    plan = member.treatment_plans.get()
    assert r.status_code == 302
    phase = plan.phases.get()
    r = client.post(
        reverse("clinical:plan_act", args=[plan.pk, "item"]),
        {"phase": phase.pk, "item": implant.pk, "teeth": "36"},
    )
    assert r.status_code == 302 and plan.items.count() == 1
    r = client.post(
        reverse("clinical:plan_act", args=[plan.pk, "item"]),
        {"phase": phase.pk, "item": implant.pk, "teeth": "99"},
    )
    assert r.status_code == 400 and plan.items.count() == 1
    client.post(reverse("clinical:plan_act", args=[plan.pk, "submit"]))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.IN_REVIEW
    assert client.post(reverse("clinical:plan_act", args=[plan.pk, "present"])).status_code == 400
    assert client.get(reverse("clinical:review_queue")).status_code == 403
    senior_client = login(senior)
    assert "种植" in senior_client.get(reverse("clinical:review_queue")).content.decode()
    r = senior_client.post(reverse("clinical:plan_act", args=[plan.pk, "review"]), {"decision": "approve"})
    plan.refresh_from_db()
    assert r.status_code == 302 and plan.status == PlanStatus.APPROVED
    r = client.get(reverse("clinical:plan_pdf", args=[plan.pk]))
    assert r.status_code == 200 and r["Cache-Control"] == "private, no-store"


def test_trace_page_and_export(manager, doctor):
    client = login(manager)
    r = client.get(reverse("clinical:trace"), {"date_from": "2026-01-01", "date_to": "2026-12-31"})
    assert r.status_code == 200
    r = client.get(reverse("clinical:trace_export"), {"date_from": "2026-01-01", "date_to": "2026-12-31"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")
    assert AuditLog.objects.filter(action="clinical.trace.exported").count() == 1
    r = client.get(reverse("clinical:trace"), {"date_from": "2026-12-31", "date_to": "2026-01-01"})
    assert r.status_code == 200 and AuditLog.objects.filter(action="clinical.trace.searched").count() == 1
    assert login(doctor).get(reverse("clinical:trace")).status_code == 403
