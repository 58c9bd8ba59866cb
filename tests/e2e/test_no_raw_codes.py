"""Issue 11 item 19, as a class: no staff page shows a stored code or untranslated English in
Chinese. One walk, as HQ (who sees the most), over every staff page of the URL
configuration and every admin change list, on the accessibility test's demo world: the
visible text must hold no code-shaped token (``loyalty.points_expire``, ``visit:2``,
``appointment_reminder_24h``) and no run of English words."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_accessibility import admin_urls, classify, open_as, staff_urls, world  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# A code: lower-case words joined by dots or underscores, or a prefix with an id (visit:2).
# (Latin boundaries only: a code glued to Chinese text, 来源visit:2, is still a code.)
CODE = re.compile(
    r"(?<![A-Za-z0-9_@/.:-])[a-z][a-z0-9]*(?:[._][a-z0-9]+)+(?![A-Za-z0-9_@/-])"
    r"|(?<![A-Za-z0-9_@/.-])[a-z_]+:\d+(?![A-Za-z0-9_])"
)
# English: two Latin words of three letters or more in a row ("Can add", "Points redeemed"),
# each with a lower-case letter: a coupon or card code (QFEW-HWZK) is capitals only.
_WORD = r"(?=[A-Za-z]*[a-z])[A-Za-z]{3,}"
ENGLISH = re.compile(rf"\b{_WORD}(?:[ \-]{_WORD})+\b")
# Latin text that is right in Chinese: names of products and services, demo data.
ALLOWED = {"WeChat", "Smile Dental", "Django", "Clinic CRM"}
VISIBLE_TEXT = "() => document.body.innerText"
# Column headers and form labels name things: no Latin word at all (a field without a
# translated verbose_name shows as MEMBER in a Chinese admin list).
LABELS = """() => [...document.querySelectorAll('thead th, label, legend, dt')]
  .filter(el => el.checkVisibility()).map(el => el.innerText.trim())"""
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Latin that is right in a label: ID numbers, FDI tooth numbers, WeChat, QQ, SMS, CBCT.
LABEL_WORDS = {"ID", "IP", "FDI", "WeChat", "QQ", "SMS", "CBCT", "No", "English", "VIP", "CSV", "XLS", "XLSX"}


FILE_NAME = re.compile(r"\.(?:csv|xlsx|xls|json|pdf)$")


def offending(text: str, data: frozenset = frozenset()) -> list[str]:
    """Code-shaped tokens and English runs in ``text``, less what users typed (``data``:
    login names, a category's English name, an uploaded file's name)."""
    found = [m.group(0) for m in CODE.finditer(text)]
    found += [m.group(0) for m in ENGLISH.finditer(text) if m.group(0) not in ALLOWED]
    return sorted({t for t in found if t not in data and not FILE_NAME.search(t)})


def entered_data() -> frozenset:
    from django.apps import apps
    from django.contrib.auth import get_user_model

    values = set(get_user_model().objects.values_list("username", flat=True))
    # The English names HQ enters beside the Chinese ones (catalogue, channels, holidays…).
    for model in apps.get_models():
        if any(f.name == "name_en" for f in model._meta.concrete_fields):
            values |= {v for v in model.objects.values_list("name_en", flat=True) if v}
    return frozenset(values)


def test_offending_finds_codes_and_english_but_not_chinese():
    assert offending("任务 loyalty.points_expire 来源 visit:2 模板 appointment_reminder_24h") == [
        "appointment_reminder_24h",
        "loyalty.points_expire",
        "visit:2",
    ]
    assert offending("来源visit:2") == ["visit:2"]
    assert offending("权限 Can add appointment") == ["Can add appointment"]
    assert offending("预约提醒 · 短信 · 2026-12-03 09:30 · ¥1,280.00 · a@b.cn · JA000102") == []
    assert offending("券码 QFEW-HWZK · 卡号 ABCD EFGH") == []
    assert offending("状态 Points redeemed") == ["Points redeemed"]


def test_no_staff_page_shows_a_code_or_english(live_server, browser, world):  # noqa: F811
    from django.contrib.auth import get_user_model

    hq = get_user_model().objects.get(username="hqadmin")
    context, page = open_as(browser, live_server.url, "hqadmin")
    found, walked, data = {}, 0, entered_data()
    for _name, url in staff_urls(world) + admin_urls(hq):
        if classify(context.request.get(url, max_redirects=0)) != "page":
            continue
        page.goto(url)
        page.wait_for_load_state()
        walked += 1
        bad = offending(page.evaluate(VISIBLE_TEXT), data)
        for label in page.evaluate(LABELS):
            bad += [
                w for w in LATIN_WORD.findall(label) if w not in LABEL_WORDS and w.upper() not in LABEL_WORDS
            ]
        if bad:
            found[url] = sorted(set(bad))
    context.close()
    assert found == {}, "\n".join(f"{url}: {bad}" for url, bad in found.items())
    assert walked > 40, walked
