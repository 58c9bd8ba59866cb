"""Every KPI is defined once in code, and its words are the ones docs/reports.md gives."""

from __future__ import annotations

from pathlib import Path

from django.utils import translation

from reports import kpis

DOC = Path(__file__).resolve().parents[2] / "docs" / "reports.md"


def test_every_kpi_definition_is_in_the_docs_in_both_languages():
    text = DOC.read_text()
    for kpi in kpis.KPIS.values():
        for language in ("zh-hans", "en"):
            with translation.override(language):
                assert str(kpi.definition) in text, (kpi.code, language)
                assert str(kpi.name) in text, (kpi.code, language)


def test_kpis_read_known_metrics_or_nothing():
    for kpi in kpis.KPIS.values():
        for code in (kpi.numerator, kpi.denominator):
            assert code is None or code in kpis.METRICS, (kpi.code, code)
        assert kpi.available == (kpi.numerator is not None or kpi.kind == "live")
    assert kpis.KPIS["complaint_sla"].available and kpis.KPIS["complaint_sla"].kind == "live"
    assert not kpis.KPIS["campaign_conversion"].available
    assert not kpis.KPIS["campaign_conversion"].available
