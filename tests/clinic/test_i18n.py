"""Both languages are complete: the catalogues have no gap, and the pages show no source
string left untranslated."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.urls import reverse

LOCALE = Path(__file__).resolve().parents[2] / "locale"


class TextExtractor(HTMLParser):
    """Visible text and the attributes people read (placeholder, title, aria-label)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style"}:
            self._skip += 1
        for name, value in attrs:
            if name in {"placeholder", "title", "aria-label"} and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in {"script", "style"}:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = TextExtractor()
    parser.feed(html)
    return parser.parts


# Words that stay in Latin letters in the Chinese UI: product names, codes, the language
# switch's own label, units.
ALLOWED_LATIN = {"English", "Clinic", "CRM", "CBCT", "JA", "PD", "CNY", "Celery", "worker", "beat"}


def untranslated(parts: list[str]) -> list[str]:
    bad = []
    for part in parts:
        words = re.findall(r"[A-Za-z]{3,}", part)
        if any(word not in ALLOWED_LATIN for word in words):
            bad.append(part)
    return bad


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_catalogue_is_complete(language):
    po = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    assert len(po) > 50
    assert [e.msgid for e in po.fuzzy_entries()] == []
    if language == "zh_Hans":
        assert [e.msgid for e in po.untranslated_entries()] == []


def test_catalogue_placeholders_match():
    po = polib.pofile(str(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    pattern = re.compile(r"%\(\w+\)[sd]|\{\{ ?\w+ ?\}\}|%s|%d")
    for entry in po.translated_entries():
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for msgstr in translations:
            assert sorted(set(pattern.findall(entry.msgid))) == sorted(set(pattern.findall(msgstr))), (
                entry.msgid
            )


@pytest.mark.django_db
@pytest.mark.parametrize("role_fixture", ["front_desk", "manager", "hq_admin", "doctor"])
def test_home_page_in_chinese_has_no_untranslated_string(request, role_fixture, client_for):
    user = request.getfixturevalue(role_fixture)
    html = client_for(user).get(reverse("home")).content.decode()
    assert untranslated(visible_text(html)) == []
    assert "首页" in html


@pytest.mark.django_db
def test_pages_in_chinese_have_no_untranslated_string(front_desk, client_for):
    from tests.clinic.factories import ServiceItemFactory

    ServiceItemFactory(code="PV01", name="超声洁牙")
    client = client_for(front_desk)
    for url in [
        reverse("clinic:catalog"),
        reverse("clinic:catalog") + "?q=不存在的项目",
        "/missing/",
    ]:
        assert untranslated(visible_text(client.get(url).content.decode())) == [], url


@pytest.mark.django_db
def test_login_page_in_both_languages(client):
    zh = client.get(reverse("login")).content.decode()
    assert "登录" in zh and untranslated(visible_text(zh)) == []
    client.cookies["clinic_language"] = "en"
    en = client.get(reverse("login")).content.decode()
    assert "Log in" in en and "登录" not in en


@pytest.mark.django_db
def test_home_page_in_english_has_no_chinese_ui_text(front_desk, client_for):
    client = client_for(front_desk)
    client.cookies["clinic_language"] = "en"
    html = client.get(reverse("home")).content.decode()
    # Names of people and branches are data and stay Chinese; the UI's own words must not.
    for word in ["首页", "我的工作", "角色", "价格查询", "退出"]:
        assert word not in html
    assert "My work" in html and "Home" in html


@pytest.mark.django_db
def test_language_switch_round_trip(front_desk, client_for):
    client = client_for(front_desk)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "My work" in client.get("/").content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "我的工作" in client.get("/").content.decode()


@pytest.mark.django_db
def test_browser_accept_language_does_not_override_the_clinic_default(front_desk, client_for):
    html = client_for(front_desk).get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "我的工作" in html
