"""Pinyin for search: full pinyin and initials, with the surnames whose reading differs from
the character's most common one (曾 zeng, not ceng), and the search columns of a member."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

# Surnames read differently from the character's everyday reading; compound surnames first
# (longest match wins).
SURNAME_READINGS: dict[str, list[str]] = {
    "尉迟": ["yu", "chi"],
    "万俟": ["mo", "qi"],
    "单于": ["chan", "yu"],
    "长孙": ["zhang", "sun"],
    "澹台": ["tan", "tai"],
    "欧阳": ["ou", "yang"],
    "令狐": ["ling", "hu"],
    "曾": ["zeng"],
    "单": ["shan"],
    "解": ["xie"],
    "区": ["ou"],
    "仇": ["qiu"],
    "朴": ["piao"],
    "查": ["zha"],
    "盖": ["ge"],
    "覃": ["qin"],
    "尉": ["wei"],
    "翟": ["zhai"],
    "种": ["chong"],
    "繁": ["po"],
    "员": ["yun"],
    "秘": ["bi"],
    "乐": ["yue"],
    "缪": ["miao"],
    "折": ["she"],
    "黑": ["he"],
    "华": ["hua"],
    "任": ["ren"],
    "纪": ["ji"],
    "燕": ["yan"],
    "冼": ["xian"],
    "牟": ["mou"],
    "隗": ["wei"],
    "谌": ["chen"],
    "召": ["shao"],
    "宿": ["su"],
    "相": ["xiang"],
    "卜": ["bu"],
    "句": ["gou"],
}
_MAX_SURNAME = max(len(k) for k in SURNAME_READINGS)


def syllables(name: str) -> list[str]:
    """Pinyin syllables of a Chinese name, lower case without tones; other text passes through
    lowered and stripped of spaces."""
    name = "".join(name.split())
    if not name:
        return []
    head: list[str] = []
    for size in range(min(_MAX_SURNAME, len(name)), 0, -1):
        if name[:size] in SURNAME_READINGS:
            head = list(SURNAME_READINGS[name[:size]])
            name = name[size:]
            break
    return [s.lower() for s in head + list(_rest(name)) if s.strip()]


@lru_cache(maxsize=1)
def _single_readings() -> dict[str, str]:
    """Characters with one reading whatever their tone (伟 wei, 芳 fang): read alone, with no
    phrase lookup; a phrase cannot change a reading the character does not have."""
    from pypinyin.pinyin_dict import pinyin_dict

    readings = {}
    for code, text in pinyin_dict.items():
        forms = {_toneless(r) for r in text.split(",")}
        if len(forms) == 1:
            readings[chr(code)] = forms.pop()
    return readings


def _toneless(reading: str) -> str:
    for mark in "üǖǘǚǜ":
        reading = reading.replace(mark, "v")  # Style.NORMAL with v_to_u=False writes ü as v
    return "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))


@lru_cache(maxsize=100_000)
def _rest(text: str) -> tuple[str, ...]:
    # Given names repeat a great deal (伟, 芳, 静…): an import of 100,000 people computes
    # each one once; one made of single-reading characters needs no phrase segmentation.
    single = _single_readings()
    if text and all(ch in single for ch in text):
        return tuple(single[ch] for ch in text)
    return tuple(lazy_pinyin(text, style=Style.NORMAL, errors="default", v_to_u=False))


def pinyin_forms(name: str) -> tuple[str, str]:
    """``(pinyin_full(name), pinyin_initials(name))`` from one reading of the name."""
    parts = syllables(name)
    return "".join(parts)[:200], "".join(s[0] for s in parts if s)[:50]


def pinyin_full(name: str) -> str:
    return "".join(syllables(name))[:200]


def pinyin_initials(name: str) -> str:
    return "".join(s[0] for s in syllables(name) if s)[:50]


def name_grams(name: str) -> list[str]:
    """Every one- and two-character piece of a name: the index behind one- and two-character
    Chinese searches, which trigrams cannot serve."""
    name = "".join(name.split()).lower()
    grams = {name[i : i + n] for n in (1, 2) for i in range(len(name) - n + 1)}
    return sorted(grams)


def mask_name(name: str) -> str:
    """``张**``: the family name and a star per other character, for a person the viewer may
    not open (a shared phone at another branch)."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""
