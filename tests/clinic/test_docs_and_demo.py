"""Issue 11 items 24 and 6 (second half), which had no test of their own: the README names
the RUN_ADDR setting and every demo login, and the demo keeps health facts in the medical
fields, never in the general notes that marketing reads."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

README = Path(settings.BASE_DIR) / "README.md"
# Words that make a note a health fact (allergies, conditions, medicines, pregnancy).
HEALTH = re.compile(r"过敏|高血压|糖尿病|心脏|哮喘|怀孕|孕|抗凝|青霉素|阿司匹林|病史|手术|服用|药")


def test_readme_documents_run_addr_and_every_demo_login():
    from clinic.management.commands.seed_demo import STAFF

    text = README.read_text()
    assert "RUN_ADDR" in text
    logins = [row[0] for row in STAFF]
    assert "frontdesk_pd" in logins
    assert [login for login in logins if f"`{login}`" not in text] == []


def test_demo_notes_hold_no_health_facts_and_the_medical_fields_do():
    from members.demo import PEOPLE

    notes = {row[0]: row[-1] for row in PEOPLE}
    assert {name: note for name, note in notes.items() if HEALTH.search(note or "")} == {}
    assert any(row[9] or row[10] for row in PEOPLE)  # allergies / conditions are filled
