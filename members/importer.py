"""Import people from an old system's spreadsheet (.xlsx or .csv).

Three steps: **map** (headers the importer does not know, and values it does not read —
old tier names — are matched by the user to our fields and values; saved as an
``ImportProfile`` per source system and applied again next time), **validate** (every row
checked, errors kept per row and column in the user's language, a preview of the first valid
rows; the valid rows are staged to a file in COPY format; nothing written to the member
table) and, once a person confirms, **commit** (set-based, see ``import_commit``). Files over
``MEMBERS_IMPORT_SYNC_ROWS`` rows validate and commit in Celery, with progress on the job row.
See docs/decisions.md for why this is our own importer and not django-import-export.

Old systems' exports are messy, so reading is forgiving: a title row above the header, GB18030
CSV, full-width digits and spaces (NFKC), trailing spaces, "+86 138-0013-8000", Excel date
serials, "1985.3.7", exact duplicate rows (skipped). A row that matches a person already
registered (same phone and name, or same ID number) *updates* that person: only empty fields
are filled; a different value in the file is reported, never written. Columns a higher app owns
(card, tier, points, spend, referrer, stored value: loyalty) come in through
``members.registry.register_import_columns``. The commit is one transaction: it lands whole or
not at all, and re-running it (or importing the same file again) writes nothing twice.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import itertools
import logging
import re
import unicodedata
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from python_calamine import CalamineWorkbook

from clinic.bulk import copy_file, copy_value
from clinic.fields import hidden_characters
from clinic.jobs import enqueue_on_commit
from clinic.models import Branch
from clinic.phones import PhoneError, normalize_phone
from clinic.services import audit_record

from . import crypto, names
from .errors import ImportFileError, MemberError
from .fields import EncryptedTextField
from .idnumbers import IdNumberError, birth_date_of, gender_of, mask_id_number, normalize_id_number
from .models import AcquisitionChannel, Gender, ImportJob, ImportProfile, Member, Stage, Tag
from .registry import ValueMap, import_columns
from .services.records import clean_email

# Header (Chinese as the old systems write it, or English) → field.
HEADERS = {
    "姓名": "name",
    "name": "name",
    "手机号": "phone",
    "手机": "phone",
    "电话": "phone",
    "phone": "phone",
    "性别": "gender",
    "gender": "gender",
    "出生日期": "birth_date",
    "生日": "birth_date",
    "birth_date": "birth_date",
    "身份证号": "id_number",
    "身份证": "id_number",
    "id_number": "id_number",
    "来源渠道": "channel",
    "来源": "channel",
    "channel": "channel",
    "阶段": "stage",
    "stage": "stage",
    "地址": "address",
    "address": "address",
    "职业": "occupation",
    "occupation": "occupation",
    "微信号": "wechat_id",
    "wechat": "wechat_id",
    "邮箱": "email",
    "电子邮箱": "email",
    "电子邮件": "email",
    "email": "email",
    "e-mail": "email",
    "备注": "notes",
    "notes": "notes",
    "过敏史": "allergies",
    "药物过敏": "allergies",
    "allergies": "allergies",
    "既往病史": "conditions",
    "病史": "conditions",
    "conditions": "conditions",
    "首次就诊日期": "first_visit",
    "首次就诊": "first_visit",
    "初诊日期": "first_visit",
    "first_visit": "first_visit",
    "最近就诊日期": "last_visit",
    "最近就诊": "last_visit",
    "最后就诊日期": "last_visit",
    "last_visit": "last_visit",
    "标签": "tags",
    "tags": "tags",
}
# Column names shown in errors, per field (the Chinese header old systems use).
LABELS = {
    "name": "姓名",
    "phone": "手机号",
    "gender": "性别",
    "birth_date": "出生日期",
    "id_number": "身份证号",
    "channel": "来源渠道",
    "stage": "阶段",
    "allergies": "过敏史",
    "conditions": "既往病史",
    "first_visit": "首次就诊日期",
    "last_visit": "最近就诊日期",
    "tags": "标签",
    "email": "邮箱",
}
# The fields offered in the mapping step, in the user's language.
FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "phone": gettext_lazy("Mobile phone"),
    "gender": gettext_lazy("Gender"),
    "birth_date": gettext_lazy("Birth date"),
    "id_number": gettext_lazy("ID number"),
    "channel": gettext_lazy("Acquisition channel"),
    "stage": gettext_lazy("Stage"),
    "address": gettext_lazy("Address"),
    "occupation": gettext_lazy("Occupation"),
    "wechat_id": gettext_lazy("WeChat ID"),
    "email": gettext_lazy("E-mail"),
    "notes": gettext_lazy("Notes"),
    "allergies": gettext_lazy("Drug allergies"),
    "conditions": gettext_lazy("Systemic conditions"),
    "first_visit": gettext_lazy("First visit date"),
    "last_visit": gettext_lazy("Last visit date"),
    "tags": gettext_lazy("Tags"),
}
# Fields an update may fill on an existing person when they are empty there.
FILLABLE = ["gender", "birth_date", "id_number", "address", "occupation", "wechat_id", "email", "channel_id",
            "allergies", "conditions", "notes", "first_visit_at", "last_visit_at", "card_no"]  # fmt: skip
_ONLY = [f.name for f in Member._meta.concrete_fields if f.attname in FILLABLE]
TAG_SPLIT = re.compile(r"[,，、;；/|\s]+")
GENDERS = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F", "": ""}
STAGES = {
    "": Stage.PATIENT,
    "潜客": Stage.LEAD,
    "lead": Stage.LEAD,
    "已就诊": Stage.PATIENT,
    "患者": Stage.PATIENT,
    "patient": Stage.PATIENT,
    "会员": Stage.MEMBER,
    "member": Stage.MEMBER,
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S",
                "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M")  # fmt: skip
_YMD = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
# A Chinese mobile in the ranges phonenumbers accepts whatever follows: read without parsing
# (the parse is most of a row's cost); anything else goes through ``normalize_phone``.
_CN_MOBILE = re.compile(r"(?:\+86|0086|86)?(1(?:3\d|5[0-35-9]|66|7[0-35-8]|8\d|9[0-35-9])\d{8})")
_PHONE_NOISE = str.maketrans("", "", " -()（）")
EXCEL_EPOCH = dt.date(1899, 12, 30)
HEADER_SCAN_ROWS = 10  # title rows above the header ("会员信息导出 2026-11-30") are skipped
SAMPLE_ROWS = 2000  # rows read for samples while headers still need mapping
PREVIEW_ROWS = 20
MAX_ERRORS = 1000
MAX_UNKNOWN_VALUES = 50
CHUNK = 5000

log = logging.getLogger(__name__)


def _cell(value) -> str:
    """Text of a cell: integers without ``.0``, NFKC (full-width digits, letters and spaces
    become ASCII), surrounding spaces trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.strip()


class HashSet:
    """A set of 64-bit hashes in one flat array (open addressing): 16 bytes an entry where a
    ``set`` of ints costs about 70, so a million-row file's duplicate checks stay small."""

    def __init__(self, capacity: int = 1 << 12):
        self._slots = array("q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _find(self, key: int) -> int:
        slots, mask = self._slots, self._mask
        i = key & mask
        while True:
            value = slots[i]
            if value == 0 or value == key:
                return i
            i = (i + 1) & mask

    def add(self, key: int) -> bool:
        """Add ``key``; True if it was not there yet."""
        key = key or 1  # 0 marks an empty slot (so 0 and 1 are one key: fine for hashes)
        i = self._find(key)
        if self._slots[i] == key:
            return False
        self._slots[i] = key
        self._size += 1
        if self._size * 2 > self._mask:
            old = self._slots
            self._slots = array("q", bytes(16 * len(old)))
            self._mask = 2 * len(old) - 1
            for value in old:
                if value:
                    self._slots[self._find(value)] = value
        return True

    def __contains__(self, key: int) -> bool:
        key = key or 1
        return self._slots[self._find(key)] == key


def _text(row: dict, key: str) -> str:
    """A cell of a row ``read_rows`` made (already trimmed and NFKC) as text."""
    value = row.get(key)
    return value if type(value) is str else _cell(value)


def all_headers() -> dict[str, str]:
    """Header text → field, ours and every registered app's (their fields are prefixed with
    the app's key, ``loyalty.points``)."""
    headers = dict(HEADERS)
    for columns in import_columns():
        for header, name in columns.headers.items():
            headers[header] = f"{columns.key}.{name}"
    return headers


def field_choices() -> list[tuple[str, str]]:
    """Every field an unknown header can be mapped to: (field, label in the user's language)."""
    choices = [(name, str(label)) for name, label in FIELD_LABELS.items()]
    for columns in import_columns():
        for name, label in columns.field_labels.items():
            choices.append((f"{columns.key}.{name}", str(label)))
    return choices


def header_key(value) -> str:
    text = _cell(value)
    return text.lower() if text.isascii() else text.replace(" ", "")


def _bad_file() -> ImportFileError:
    return ImportFileError(
        _(
            "This file cannot be read as a spreadsheet. Save it from Excel (or the old system) "
            "as .xlsx, or as CSV (UTF-8 or GB18030), and upload it again."
        ),
        code="bad_file",
    )


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as UTF-8, else GB18030 (what
    Excel on a Chinese Windows saves). Read in blocks: a million-row file is never held."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        first = True
        while block := fh.read(1 << 20):
            if b"\x00" in block:
                raise ImportFileError(
                    _(
                        "The CSV file contains NUL bytes, so it is not a text CSV (perhaps a "
                        "spreadsheet renamed to .csv). Save it again as CSV and upload it."
                    ),
                    code="nul",
                )
            if first:
                first = False
                if block.startswith(codecs.BOM_UTF8):
                    return "utf-8-sig"
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return "gb18030"
    return "utf-8"


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
    return n


def _csv_source(path: Path, encoding: str) -> Iterator[list]:
    try:
        with path.open(encoding=encoding, newline="") as fh:
            yield from csv.reader(fh)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _bad_file() from exc


@dataclass
class Sheet:
    """A spreadsheet opened for reading: ``rows`` yields ``(row number, {field: text})``;
    ``unknown`` lists the header cells neither the importer nor the mapping knows, as
    ``(header key, header text, column index)``."""

    total: int
    rows: Iterator[tuple[int, dict]]
    fields: list[str | None]
    unknown: list[tuple[str, str, int]] = field(default_factory=list)
    samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def has_key_column(self) -> bool:
        return "name" in self.fields or "phone" in self.fields


def read_rows(path: Path, mapping: dict | None = None) -> Sheet:
    """Open ``path`` with the job's header mapping (header key → field, ``""`` = ignore).

    Raises ``ImportFileError`` if the file is not a spreadsheet, has no recognisable header
    in its first rows (and no unknown header the user could map), or breaks while read."""
    if path.suffix.lower() == ".csv":
        encoding = _csv_encoding(path)
        source: Iterator = _csv_source(path, encoding)
        total = _count_lines(path)
        raw_values = True
    else:
        # calamine (Rust) reads a sheet ~10x faster than openpyxl, and old .xls files too.
        try:
            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
            source = iter(sheet.iter_rows())
        except Exception as exc:  # calamine raises its own errors for anything not a workbook
            raise _bad_file() from exc
        total = sheet.height
        raw_values = False
    headers = all_headers()
    mapped = (mapping or {}).get("headers", {})

    def field_of(h) -> str | None:
        key = header_key(h)
        if key in mapped:
            return mapped[key] or None
        return headers.get(key)

    # The header is the first of the top rows naming two fields (or the name); failing that,
    # the first naming one, so a file of mostly unknown headers still reaches the mapping.
    top = list(itertools.islice(source, HEADER_SCAN_ROWS))
    number, header, fields = 0, [], []
    candidates = [(n, h, [field_of(c) for c in h]) for n, h in enumerate(top, start=1)]
    for n, h, f in candidates:
        if sum(1 for x in f if x) >= 2 or "name" in f:
            number, header, fields = n, h, f
            break
    else:
        for n, h, f in candidates:
            if any(f):
                number, header, fields = n, h, f
                break
    source = itertools.chain(top[number:], source) if fields else iter(())
    unknown = [
        (header_key(h), _cell(h), i)
        for i, h in enumerate(header)
        if _cell(h) and header_key(h) not in headers and header_key(h) not in mapped
    ]
    if "name" not in fields and "phone" not in fields and not unknown:
        raise ImportFileError(
            _("No header row found: the file needs a 姓名 (name) or 手机号 (phone) column."),
            code="no_header",
        )
    header_row = number
    total = max(total - header_row, 0)
    result = Sheet(total=total, rows=iter(()), fields=fields, unknown=unknown)
    result.samples = {key: [] for key, _t, _i in unknown}
    columns = [(i, f) for i, f in enumerate(fields) if f]
    sample_columns = [(i, key) for key, _t, i in unknown]

    def rows() -> Iterator[tuple[int, dict]]:
        for number, values in enumerate(source, start=header_row + 1):
            record = {}
            width = len(values)
            for i, name in columns:
                if i < width:
                    value = values[i]
                    record[name] = (
                        value if not raw_values and isinstance(value, dt.date | dt.datetime) else _cell(value)
                    )
            for i, key in sample_columns:
                if i < width and len(result.samples[key]) < 3 and (text := _cell(values[i])):
                    result.samples[key].append(text[:40])
            if any(v not in ("", None) for v in record.values()):
                yield number, record

    result.rows = rows()
    return result


def _date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not value:
        return None
    if m := _YMD.fullmatch(value):
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    if re.fullmatch(r"\d{5}(\.\d+)?", value):  # an Excel date serial (31112 = 1985-03-07)
        return EXCEL_EPOCH + dt.timedelta(days=int(float(value)))
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(value)


def parse_date(value) -> dt.date | None:
    """For registered import columns: the same date reading as ours (raises ``ValueError``)."""
    return _date(value)


def parse_phone(text: str) -> str:
    """E.164 of a phone as old exports write it (raises ``PhoneError``)."""
    compact = text.translate(_PHONE_NOISE)
    if m := _CN_MOBILE.fullmatch(compact):
        return "+86" + m[1]
    return normalize_phone(text)


# What pass one stages per valid row (the member table's columns but the bookkeeping ones,
# which the commit sets), ready for the database: ID number and medical alerts encrypted.
_SKIP = {"id", "created_at", "updated_at", "created_by_id", "updated_by_id"}
_FIELDS = [f for f in Member._meta.concrete_fields if f.attname not in _SKIP]
MEMBER_COLUMNS = [f.column for f in _FIELDS]
_ATTNAMES = [f.attname for f in _FIELDS]
_ENCRYPTED = {f.attname for f in _FIELDS if isinstance(f, EncryptedTextField)}
STAGE_COLUMNS = ["row_no", "id_hashes", "tags", "ext", *MEMBER_COLUMNS]
_GENDER_LABELS = dict(Gender.choices)
_STAGE_LABELS = dict(Stage.choices)


def _defaults(branch: Branch) -> dict:
    template = Member(branch=branch, name="")
    return {a: getattr(template, a) for a in _ATTNAMES}


class RowValidator:
    """Checks one row at a time; keeps what it needs to catch duplicates inside the file and
    matches against the database (looked up in batches, not per row). Values of mapped fields
    (old tier names) are translated through the job's value mapping first; values nobody
    mapped yet are collected in ``unknown_values`` for the mapping step."""

    def __init__(self, branch: Branch, value_mapping: dict | None = None):
        self.branch = branch
        self.channels = {c.name: c.pk for c in AcquisitionChannel.objects.filter(is_active=True)}
        # Hashes, not the values: a million-row file keeps its duplicate check small.
        self.seen_phone_names = HashSet()
        self.phones = HashSet()  # every valid row's phone, for the apps' end-of-file checks
        self.seen_ids: set[str] = set()
        self.seen_rows = HashSet()
        self.today = timezone.localdate()
        self.defaults = _defaults(branch)
        self.extensions = [(c, c.handler()) for c in import_columns()]
        self.value_maps = _value_maps(self.extensions)
        self.value_mapping = value_mapping or {}
        self.unknown_values: dict[str, set[str]] = {}

    def _map_values(self, row: dict) -> None:
        for name, vmap in self.value_maps.items():
            text = row.get(name)
            if not text or not isinstance(text, str):
                continue
            text = self.value_mapping.get(name, {}).get(text, text)
            row[name] = text
            if not vmap.accepts(text):
                seen = self.unknown_values.setdefault(name, set())
                if len(seen) < MAX_UNKNOWN_VALUES:
                    seen.add(text)

    def check(self, number: int, row: dict) -> tuple[dict | None, list[dict]]:
        """``(member, errors)``: ``member`` maps Member attnames to values (plus ``_row``,
        ``_tags``, ``_ext``, ``_id_hashes``); None for a row with errors, and for an exact
        repeat of an earlier row (``errors`` then holds one notice, ``skipped``)."""
        errors = []

        def err(column: str, message: str) -> None:
            errors.append({"row": number, "column": column, "message": message})

        if not self.seen_rows.add(hash(tuple(row.items()))):
            return None, [
                {
                    "row": number,
                    "column": "",
                    "message": _("Skipped: the same row appears earlier in the file."),
                    "skipped": True,
                }
            ]
        if self.value_maps:
            self._map_values(row)
        name = " ".join(_text(row, "name").split())
        if not name:
            err("姓名", _("Name is missing."))
        elif len(name) > 50:
            err("姓名", _("Name is longer than 50 characters."))
        elif not name.isprintable() and (hidden := hidden_characters(name)):
            err(
                "姓名",
                _("Name contains invisible or control characters (%(chars)s).")
                % {"chars": ", ".join(hidden[:5])},
            )
        phone = ""
        if raw_phone := _text(row, "phone"):
            try:
                phone = parse_phone(raw_phone)
            except PhoneError:
                err("手机号", _("Bad phone number: %(value)s") % {"value": raw_phone})
        email = ""
        if raw_email := _text(row, "email"):
            try:
                email = clean_email(raw_email)
            except MemberError:
                err("邮箱", _("Bad e-mail address: %(value)s") % {"value": raw_email[:100]})
        gender = GENDERS.get(_text(row, "gender").lower())
        if gender is None:
            err("性别", _("Gender must be 男 or 女."))
            gender = ""
        birth = None
        try:
            birth = _date(row.get("birth_date"))
            if birth and (birth > self.today or birth.year < 1900):
                err("出生日期", _("Birth date is not in the past: %(value)s") % {"value": birth})
                birth = None
        except ValueError:
            err(
                "出生日期",
                _("Bad date: %(value)s (use 2020-01-31)") % {"value": _text(row, "birth_date")},
            )
        visits = {}
        for key in ("first_visit", "last_visit"):
            try:
                visits[key] = _date(row.get(key))
                if visits[key] and (visits[key] > self.today or visits[key].year < 1900):
                    err(
                        LABELS[key],
                        _("The visit date is not in the past: %(value)s") % {"value": visits[key]},
                    )
                    visits[key] = None
            except ValueError:
                err(LABELS[key], _("Bad date: %(value)s (use 2020-01-31)") % {"value": _text(row, key)})
                visits[key] = None
        first_visit, last_visit = visits["first_visit"], visits["last_visit"]
        if first_visit and last_visit and first_visit > last_visit:
            err(LABELS["first_visit"], _("The first visit is after the last visit."))
        id_number = ""
        if raw_id := _text(row, "id_number"):
            try:
                id_number = normalize_id_number(raw_id)
                if birth and birth != birth_date_of(id_number):
                    err("出生日期", _("Birth date does not match the ID number."))
                birth = birth or birth_date_of(id_number)
                gender = gender or gender_of(id_number)
            except IdNumberError:
                err(
                    "身份证号",
                    _("Bad ID number (length, date or check digit): %(value)s") % {"value": raw_id},
                )
        channel_id = None
        if channel := _text(row, "channel"):
            channel_id = self.channels.get(channel)
            if channel_id is None:
                err("来源渠道", _("Unknown acquisition channel: %(value)s") % {"value": channel})
        stage = STAGES.get(_text(row, "stage").lower())
        if stage is None:
            err("阶段", _("Unknown stage: %(value)s") % {"value": _text(row, "stage")})
        tags = [t[:30] for t in TAG_SPLIT.split(_text(row, "tags")) if t]
        ext: dict[str, dict] = {}
        person: dict = {}
        for columns, handler in self.extensions:
            prefix = columns.key + "."
            values = {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
            if values:
                handler.current_row = number
                checked = handler.check(values, err)
                person.update(checked.pop("_member", {}))
                if checked:
                    ext[columns.key] = checked
        if errors:
            return None, errors
        pair = hash((phone, name))
        if phone and pair in self.seen_phone_names:
            err("手机号", _("Duplicate: the same name and phone appear earlier in the file."))
        id_hash = crypto.lookup_hash(id_number) if id_number else ""
        if id_hash and id_hash in self.seen_ids:
            err("身份证号", _("Duplicate: the same ID number appears earlier in the file."))
        if errors:
            return None, errors
        if phone:
            self.seen_phone_names.add(pair)
            self.phones.add(hash(phone))
        if id_hash:
            self.seen_ids.add(id_hash)
        allergies = _text(row, "allergies")
        conditions = _text(row, "conditions")
        member = dict(self.defaults)
        member.update(
            name=name,
            phone=phone,
            gender=gender,
            birth_date=birth,
            id_number=id_number,
            id_number_hash=id_hash,
            id_number_masked=mask_id_number(id_number) if id_number else "",
            channel_id=channel_id,
            stage=person.get("stage", stage),
            card_no=person.get("card_no") or None,
            address=_text(row, "address")[:255],
            occupation=_text(row, "occupation")[:50],
            wechat_id=_text(row, "wechat_id")[:50],
            email=email,
            notes=_text(row, "notes"),
            allergies=allergies,
            conditions=conditions,
            has_medical_alerts=bool(allergies or conditions),
            first_visit_at=_noon(first_visit),
            last_visit_at=_noon(last_visit),
            name_grams=names.name_grams(name),
        )
        member["pinyin_full"], member["pinyin_initials"] = names.pinyin_forms(name)
        digits = phone[3:] if phone.startswith("+861") and len(phone) == 14 else _national(phone)
        member["phone_digits"], member["phone_last4"] = digits, digits[-4:]
        member["_row"], member["_tags"], member["_ext"] = number, tags, ext
        member["_id_hashes"] = crypto.lookup_hashes(id_number) if id_number else []
        return member, []

    def against_database(self, batch: list[dict]) -> tuple[list[dict], list[dict]]:
        """Mark rows that match a person already registered (same ID number, or same phone and
        name) as updates of that person (``_match``), with a notice for every registered value
        the file would change: one query per batch."""
        matches = match_existing(
            [(m["phone"], m["name"], m["id_number"]) for m in batch],
            fields=["pk", *_ONLY, "name", "phone"],
        )
        notices = []
        for i, m in enumerate(batch):
            existing = matches.get(i)
            m["_match"] = existing.pk if existing else None
            if existing is None:
                continue
            for attname in FILLABLE:
                new, old = m[attname], getattr(existing, attname)
                if new not in ("", None) and old not in ("", None) and new != old:
                    model_field = next(f for f in Member._meta.concrete_fields if f.attname == attname)
                    notices.append(
                        {
                            "row": m["_row"],
                            "column": str(model_field.verbose_name),
                            "message": _("Kept the registered value; the file's value was not written."),
                            "notice": True,
                        }
                    )
        return batch, notices

    def finish(self) -> list[dict]:
        """Notices the registered apps have once every row was read (unmatched referrers)."""
        notices = []
        for _columns, handler in self.extensions:
            notices.extend(handler.finish(lambda phone: hash(phone) in self.phones))
        return notices


def _value_maps(extensions) -> dict[str, ValueMap]:
    # Unknown channels stay row errors (the channel list is short and HQ's); old tier names
    # and the like, registered by the apps that own them, go to the mapping step.
    maps: dict[str, ValueMap] = {}
    for columns, handler in extensions:
        for name, vmap in handler.value_maps().items():
            maps[f"{columns.key}.{name}"] = vmap
    return maps


def value_maps() -> dict[str, ValueMap]:
    """Field → ``ValueMap`` of every field whose values the mapping step maps."""
    return _value_maps([(c, c.handler()) for c in import_columns()])


def _noon(day: dt.date | None) -> dt.datetime | None:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12))) if day else None


def _national(phone: str) -> str:
    if not phone:
        return ""
    from clinic.phones import national_digits

    return national_digits(phone)


def match_existing(keys: list[tuple[str, str, str]], fields: list[str]) -> dict[int, Member]:
    """Index in ``keys`` (phone, name, plain ID number) → the registered person it matches:
    same ID number (under any current or fallback key), else same phone and name."""
    phones = {p for p, _n, _i in keys if p}
    alias = {h: i for i, (_p, _n, idn) in enumerate(keys) if idn for h in crypto.lookup_hashes(idn)}
    found: dict[int, Member] = {}
    if alias:
        for m in Member.objects.filter(id_number_hash__in=set(alias), merged_into__isnull=True).only(
            *fields, "id_number_hash"
        ):
            found.setdefault(alias[m.id_number_hash], m)
    if phones:
        by_pair = {
            (m.phone, m.name): m
            for m in Member.objects.filter(phone__in=phones, merged_into__isnull=True).only(*fields)
        }
        for i, (phone, name, _idn) in enumerate(keys):
            if i not in found and (phone, name) in by_pair:
                found[i] = by_pair[(phone, name)]
    return found


def _progress(job: ImportJob, done: int, total: int) -> None:
    ImportJob.objects.filter(pk=job.pk).update(processed_rows=done, total_rows=total)


def _preview_row(m: dict) -> dict:
    from clinic.phones import mask_phone

    return {
        "row": m["_row"],
        "action": "update" if m["_match"] else "create",
        "name": m["name"],
        "phone": mask_phone(m["phone"]),
        "gender": str(_GENDER_LABELS.get(m["gender"], "")),
        "birth_date": m["birth_date"].isoformat() if m["birth_date"] else "",
        "id_number": bool(m["id_number"]),
        "stage": str(_STAGE_LABELS.get(m["stage"], "")),
        "card_no": m["card_no"] or "",
        "extra": {k: {f: str(v) for f, v in vals.items()} for k, vals in m["_ext"].items()},
    }


def _fail(job: ImportJob, message: str) -> None:
    """End a job as failed and remove its upload and staging file (nothing of it stays)."""
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED, message=str(message)[:300], finished_at=timezone.now()
    )
    staging_path(job).unlink(missing_ok=True)
    if job.file:
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="")


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            sha.update(block)
    return sha.hexdigest()


def _profile_for(sheet: Sheet) -> ImportProfile | None:
    """The saved source system that knows the most of this file's unknown headers."""
    keys = {key for key, _t, _i in sheet.unknown}
    if not keys:
        return None
    best, score = None, 0
    for profile in ImportProfile.objects.all():
        hits = len(keys & set(profile.headers))
        if hits > score:
            best, score = profile, hits
    return best


def import_job_create(
    *, actor, branch: Branch, upload: UploadedFile, profile: ImportProfile | None = None
) -> ImportJob:
    """Store the upload and read its header; apply the chosen source system's mapping, or
    the saved one that knows the file's unknown headers; then validate now if the file is
    small, otherwise in Celery. A file that is not a readable spreadsheet ends the job as
    failed at once, with the reason, and is removed."""
    with transaction.atomic():
        job = ImportJob.objects.create(
            file=upload, original_name=upload.name[:200], branch=branch, created_by=actor
        )
        audit_record(
            actor=actor,
            action="members.import.uploaded",
            target=job,
            branch=branch,
            changes={"file": job.original_name},
        )
    path = Path(job.file.path)
    try:
        sheet = read_rows(path)
    except ImportFileError as exc:
        _fail(job, exc.message)
        job.refresh_from_db()
        return job
    profile = profile or _profile_for(sheet)
    mapping = {"headers": dict(profile.headers), "values": dict(profile.values)} if profile else {}
    ImportJob.objects.filter(pk=job.pk).update(
        total_rows=sheet.total, source_digest=_digest(path), mapping=mapping, profile=profile
    )
    _validate_soon(job.pk, sheet.total)
    job.refresh_from_db()
    return job


def _validate_soon(job_id: int, total: int) -> None:
    if total <= settings.MEMBERS_IMPORT_SYNC_ROWS:
        import_validate(job_id=job_id)
    else:
        from .tasks import import_validate_task

        enqueue_on_commit(import_validate_task, job_id, on_unavailable=lambda: _queue_down_validate(job_id))


def _queue_down_validate(job_id: int) -> None:
    """The job queue (Redis) is down: a big file cannot be checked now. The job fails with a
    message, so the upload page says so instead of checking forever (no sweep restarts it)."""
    job = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.VALIDATING).first()
    if job is not None:
        _fail(
            job,
            _(
                "The job queue is unavailable right now: the file was not checked. Upload it again in a few minutes."
            ),
        )


def _queue_down_confirm(job_id: int) -> None:
    """The job queue is down: nothing was imported; the preview stays, to be confirmed again."""
    ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.IMPORTING).update(
        status=ImportJob.Status.PREVIEW,
        message=_(
            "The job queue is unavailable right now: nothing was imported. Confirm again in a few minutes."
        ),
    )


def staging_path(job: ImportJob) -> Path:
    """Pass one's output: the valid rows in COPY text format (``STAGE_COLUMNS``; ID numbers
    and medical alerts already encrypted). Pass two COPYs it into a staging table."""
    if not job.file:
        return Path(settings.MEDIA_ROOT) / "imports" / f"job-{job.pk}.staged.tsv"
    return Path(job.file.path).with_suffix(".staged.tsv")


# The member columns ``RowValidator.check`` sets per row; the others are the same for every
# row of a job (the branch, the defaults) and are encoded once.
_PER_ROW = {"name", "phone", "gender", "birth_date", "id_number", "id_number_hash", "id_number_masked",
            "channel_id", "stage", "card_no", "address", "occupation", "wechat_id", "email", "notes", "allergies",
            "conditions", "has_medical_alerts", "first_visit_at", "last_visit_at", "pinyin_full",
            "pinyin_initials", "name_grams", "phone_digits", "phone_last4"}  # fmt: skip


def _line_plan(defaults: dict) -> list[tuple[str, str | None]]:
    return [(a, None if a in _PER_ROW else copy_value(defaults[a])) for a in _ATTNAMES]


def _staged_line(m: dict, plan: list[tuple[str, str | None]]) -> str:
    parts = [str(m["_row"]), copy_value(m["_id_hashes"]), copy_value(m["_tags"]), copy_value(m["_ext"])]
    for attname, constant in plan:
        if constant is not None:
            parts.append(constant)
            continue
        value = m[attname]
        if value and attname in _ENCRYPTED:
            value = crypto.encrypt(value)
        parts.append(copy_value(value))
    return "\t".join(parts) + "\n"


def _to_mapping(job: ImportJob, sheet: Sheet, validator: RowValidator) -> None:
    """Stop the job for the mapping step, saying what needs a decision."""
    values = {name: sorted(found) for name, found in validator.unknown_values.items() if found}
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.MAPPING,
        valid_rows=0,
        errors=[],
        preview=[],
        summary={
            "unmapped": {
                "headers": [
                    {"key": key, "label": text, "samples": sheet.samples.get(key, [])}
                    for key, text, _i in sheet.unknown
                ],
                "values": values,
                "key_column": sheet.has_key_column,
                "known": sorted({f for f in sheet.fields if f}),
            }
        },
    )
    staging_path(job).unlink(missing_ok=True)


def import_validate(*, job_id: int) -> ImportJob:
    """Pass one: check every row, keep errors, a preview and the staged valid rows. Writes
    nothing to the member table. Headers or values that need mapping stop the job in the
    MAPPING status instead. A file that breaks while being read ends as a failed job."""
    job = ImportJob.objects.get(pk=job_id)
    valid, errors, preview, notices = 0, [], [], []
    counts = {"create": 0, "update": 0, "skip": 0, "error": 0}

    def keep_errors(batch_errors: list[dict]) -> None:
        for e in batch_errors:
            if e.get("notice") or e.get("skipped"):
                counts["skip"] += 1 if e.get("skipped") else 0
                if len(notices) < MAX_ERRORS:
                    notices.append(e)
            elif len(errors) < MAX_ERRORS:
                errors.append(e)
        counts["error"] += len({e["row"] for e in batch_errors if not (e.get("notice") or e.get("skipped"))})

    try:
        with (
            translation.override(settings.LANGUAGE_CODE),
            staging_path(job).open("w", encoding="utf-8") as out,
        ):
            sheet = read_rows(Path(job.file.path), job.mapping)
            validator = RowValidator(job.branch, job.mapping.get("values"))
            plan = _line_plan(validator.defaults)
            needs_headers = bool(sheet.unknown) or not sheet.has_key_column
            batch: list[dict] = []
            batch_errors: list[dict] = []
            done = 0

            def flush() -> None:
                nonlocal valid, batch, batch_errors
                keep, db_notices = validator.against_database(batch)
                keep_errors(batch_errors + db_notices)
                valid += len(keep)
                preview.extend(_preview_row(m) for m in keep[: max(0, PREVIEW_ROWS - len(preview))])
                out.writelines(_staged_line(m, plan) for m in keep)
                for m in keep:
                    counts["update" if m["_match"] else "create"] += 1
                _progress(job, done, max(sheet.total, done))
                batch, batch_errors = [], []

            for number, row in sheet.rows:
                member, row_errors = validator.check(number, row)
                done += 1
                if member is not None:
                    batch.append(member)
                if row_errors:
                    batch_errors.extend(row_errors)
                if needs_headers and done >= SAMPLE_ROWS:
                    break  # the file is read again once its headers are mapped
                if done % CHUNK == 0 and not needs_headers:
                    flush()
            if needs_headers or any(validator.unknown_values.values()):
                out.close()
                _to_mapping(job, sheet, validator)
                job.refresh_from_db()
                return job
            flush()
            keep_errors(validator.finish())
    except ImportFileError as exc:
        _fail(job, exc.message)
        job.refresh_from_db()
        return job
    except Exception:  # a broken file must end as a failed job, not a stuck one or a 500
        log.exception("import %s: validation failed", job.pk)
        _fail(job, _("The file could not be checked; nothing was imported."))
        job.refresh_from_db()
        return job
    errors.sort(key=lambda e: e["row"])
    notices.sort(key=lambda e: e["row"])
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.PREVIEW,
        valid_rows=valid,
        errors=errors,
        preview=preview,
        summary={**counts, "notices": notices},
    )
    job.refresh_from_db()
    return job


def import_mapping_apply(
    *, actor, job: ImportJob, source: str, headers: dict[str, str], values: dict[str, dict[str, str]]
) -> ImportJob:
    """Save the user's mapping under the source system ``source`` (created, or extended:
    what this file adds is merged into what was saved before) and validate the job again
    with it. Claimed with a conditional UPDATE, so a double submit validates once. Audited."""
    with transaction.atomic():
        claimed = ImportJob.objects.filter(
            pk=job.pk, status__in=[ImportJob.Status.MAPPING, ImportJob.Status.PREVIEW]
        ).update(status=ImportJob.Status.VALIDATING, processed_rows=0)
        if not claimed:
            return job
        profile = ImportProfile.objects.select_for_update().filter(name=source).first()
        before = {"headers": dict(profile.headers), "values": dict(profile.values)} if profile else None
        if profile is None:
            profile = ImportProfile(name=source, created_by=actor if getattr(actor, "pk", None) else None)
        profile.headers = {**profile.headers, **headers}
        merged = {name: dict(found) for name, found in profile.values.items()}
        for name, found in values.items():
            merged.setdefault(name, {}).update(found)
        profile.values = merged
        profile.updated_at = timezone.now()
        profile.save()
        # The job reads with what it had plus what was just decided; values saved before under
        # this name are offered (pre-filled), not applied unseen.
        job_values = {name: dict(found) for name, found in job.mapping.get("values", {}).items()}
        for name, found in values.items():
            job_values.setdefault(name, {}).update(found)
        mapping = {"headers": {**job.mapping.get("headers", {}), **headers}, "values": job_values}
        ImportJob.objects.filter(pk=job.pk).update(mapping=mapping, profile=profile)
        audit_record(
            actor=actor,
            action="members.import.mapped",
            target=job,
            branch=job.branch,
            changes={"source": source, "headers": headers, "values": values, "before": before},
        )
    _validate_soon(job.pk, job.total_rows)
    job.refresh_from_db()
    return job


def import_mapping_reset(*, actor, job: ImportJob) -> ImportJob:
    """Read a previewed file again without any mapping, so every column the saved mapping
    had matched is asked again (pre-filled with what was saved): how a wrong saved mapping
    gets corrected. Claimed like the other steps; audited."""
    with transaction.atomic():
        claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEW).update(
            status=ImportJob.Status.VALIDATING, processed_rows=0, mapping={}
        )
        if not claimed:
            return job
        audit_record(
            actor=actor,
            action="members.import.mapping_reset",
            target=job,
            branch=job.branch,
            changes={"mapping": job.mapping},
        )
    _validate_soon(job.pk, job.total_rows)
    job.refresh_from_db()
    return job


def import_confirm(*, actor, job: ImportJob) -> ImportJob:
    """Start pass two, once. A conditional UPDATE claims the job so a double click imports once."""
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEW).update(
        status=ImportJob.Status.IMPORTING, processed_rows=0, message=""
    )
    if not claimed:
        return job
    if job.total_rows <= settings.MEMBERS_IMPORT_SYNC_ROWS:
        import_commit(job_id=job.pk, actor_id=getattr(actor, "pk", None))
    else:
        from .tasks import import_commit_task

        enqueue_on_commit(
            import_commit_task,
            job.pk,
            getattr(actor, "pk", None),
            on_unavailable=lambda: _queue_down_confirm(job.pk),
        )
    job.refresh_from_db()
    return job


STAGE_TABLE = "import_stage"
_MEMBER = Member._meta.db_table
_NULLABLE_FILL = {c.column for c in _FIELDS if c.attname in FILLABLE and c.null}
_TEXT_FILL = [c.column for c in _FIELDS if c.attname in FILLABLE and not c.null]


def _fill_sql() -> str:
    """One UPDATE: every registered person a row matched gets the file's values in the fields
    that are empty there, and only there (the history trigger records it)."""
    sets, changed = [], []
    for attname in FILLABLE:
        col = next(f.column for f in _FIELDS if f.attname == attname)
        if col in _NULLABLE_FILL:
            sets.append(f"{col} = COALESCE(m.{col}, s.{col})")
            changed.append(f"(m.{col} IS NULL AND s.{col} IS NOT NULL)")
        else:
            sets.append(f"{col} = CASE WHEN m.{col} = '' THEN s.{col} ELSE m.{col} END")
            changed.append(f"(m.{col} = '' AND s.{col} <> '')")
    sets += [
        "id_number_hash = CASE WHEN m.id_number = '' THEN s.id_number_hash ELSE m.id_number_hash END",
        "id_number_masked = CASE WHEN m.id_number = '' THEN s.id_number_masked ELSE m.id_number_masked END",
        "has_medical_alerts = m.has_medical_alerts OR (m.allergies = '' AND s.allergies <> '')"
        " OR (m.conditions = '' AND s.conditions <> '')",
        "updated_at = %(now)s",
        "updated_by_id = %(actor)s",
    ]
    return (
        f"UPDATE {_MEMBER} AS m SET {', '.join(sets)} FROM {STAGE_TABLE} AS s "
        f"WHERE s.member_id = m.id AND NOT s.is_new AND ({' OR '.join(changed)})"
    )


def import_commit(*, job_id: int, actor_id: int | None) -> ImportJob:
    """Pass two, set-based, in ONE transaction:

    1. the staged file is COPYed into a temporary staging table;
    2. each row is matched to a registered person (same ID number under any key, else same
       phone and name) with two UPDATE … FROM;
    3. new people get ids from the sequence and arrive with one INSERT … SELECT; matched
       people get their empty fields filled with one UPDATE;
    4. tags with one INSERT … SELECT; every registered app's columns (card, tier, points,
       spend, referrer…) by its own set-based ``commit`` over the staging table, with
       idempotency keys per (file, row).

    Anything failing rolls the whole import back and the job ends as failed; it can be
    committed again (or the file uploaded again) without duplicates."""
    job = ImportJob.objects.get(pk=job_id)
    actor = _actor(actor_id)
    now = timezone.now()
    handlers = [(c.key, c.handler()) for c in import_columns()]
    params = {"now": now, "actor": actor_id}
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # A bigger GIN pending list for this transaction: the three search indexes
                # take the rows in bulk instead of merging them row by row.
                cursor.execute("SET LOCAL gin_pending_list_limit = '32MB'")
                cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}")
                cursor.execute(
                    f"""CREATE TEMP TABLE {STAGE_TABLE} ON COMMIT DROP AS
                        SELECT NULL::integer AS row_no, NULL::text[] AS id_hashes, NULL::text[] AS tags,
                               NULL::jsonb AS ext, NULL::bigint AS member_id, false AS is_new,
                               {", ".join(MEMBER_COLUMNS)}
                        FROM {_MEMBER} WITH NO DATA"""
                )
                # Every row takes an id as it arrives (one pass, no UPDATE of the whole table
                # later); a row that matches a registered person swaps it for theirs (the
                # sequence has gaps anyway).
                cursor.execute(
                    f"""ALTER TABLE {STAGE_TABLE} ALTER COLUMN is_new SET DEFAULT true,
                          ALTER COLUMN member_id SET DEFAULT nextval(pg_get_serial_sequence('{_MEMBER}', 'id'))"""
                )
            copy_file(STAGE_TABLE, STAGE_COLUMNS, staging_path(job))
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {STAGE_TABLE} (row_no, id_hashes, phone, name)")
                cursor.execute(f"SELECT count(*) FROM {STAGE_TABLE}")
                done = cursor.fetchone()[0]
                _progress(job, done // 4, done)
                cursor.execute(
                    f"""UPDATE {STAGE_TABLE} AS s SET member_id = m.id, is_new = false FROM {_MEMBER} AS m
                        WHERE s.id_hashes <> '{{}}' AND m.id_number_hash = ANY(s.id_hashes)
                          AND m.id_number_hash <> '' AND m.merged_into_id IS NULL"""
                )
                cursor.execute(
                    f"""UPDATE {STAGE_TABLE} AS s SET member_id = m.id, is_new = false FROM {_MEMBER} AS m
                        WHERE s.is_new AND s.phone <> '' AND m.phone = s.phone
                          AND m.name = s.name AND m.merged_into_id IS NULL"""
                )
                columns = ", ".join(MEMBER_COLUMNS)
                cursor.execute(
                    f"""INSERT INTO {_MEMBER} (id, {columns}, created_at, updated_at, created_by_id, updated_by_id)
                        SELECT member_id, {columns}, %(now)s, %(now)s, %(actor)s, %(actor)s
                        FROM {STAGE_TABLE} WHERE is_new ORDER BY row_no""",
                    params,
                )
                created = cursor.rowcount
                cursor.execute(_fill_sql(), params)
                updated = cursor.rowcount
                _progress(job, done // 2, done)
                cursor.execute(f"SELECT DISTINCT unnest(tags) FROM {STAGE_TABLE}")
                tag_ids = _tag_ids({name for (name,) in cursor.fetchall()})
                if tag_ids:
                    cursor.execute(
                        f"""INSERT INTO {Member.tags.through._meta.db_table} (member_id, tag_id)
                            SELECT DISTINCT s.member_id, t.id FROM {STAGE_TABLE} AS s
                            CROSS JOIN LATERAL unnest(s.tags) AS n(name)
                            JOIN {Tag._meta.db_table} AS t ON t.name = n.name
                            ON CONFLICT DO NOTHING"""
                    )
            for key, handler in handlers:
                handler.commit(actor=actor, job=job, table=STAGE_TABLE, key=key)
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {STAGE_TABLE}")
            audit_record(
                actor=actor,
                action="members.import.committed",
                target=job,
                branch=job.branch,
                changes={"rows": created, "updated": updated, "through_row": done},
            )
    except Exception as exc:
        from clinic.errors import DomainError

        if not isinstance(exc, DomainError):
            log.exception("import %s: commit failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED,
            message=(
                exc.message
                if isinstance(exc, DomainError)
                else _("The import failed and was rolled back; nothing was written.")
            ),
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        return job
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE,
        imported_rows=created,
        processed_rows=done,
        total_rows=max(done, job.valid_rows),
        summary={**job.summary, "created": created, "updated": updated},
        finished_at=timezone.now(),
    )
    staging_path(job).unlink(missing_ok=True)
    job.refresh_from_db()
    return job


def _tag_ids(names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    missing = [Tag(name=n) for n in names if n not in ids]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    return ids


def _actor(actor_id: int | None):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=actor_id).first() if actor_id else None


def unmapped(job: ImportJob) -> dict:
    """What the mapping step asks about (``summary["unmapped"]``), empty when nothing."""
    return (job.summary or {}).get("unmapped") or {}
