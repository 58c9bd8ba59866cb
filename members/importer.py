"""Import people from an old system's spreadsheet (.xlsx or .csv).

Two passes over the file: **validate** (every row checked, errors kept per row and column in
the user's language, a preview of the first valid rows; nothing written to the member table)
and, once a person confirms, **commit** (the file is read and validated again, so anything
registered in between is caught as a duplicate, then written in chunks with ``bulk_create``).
Files over ``MEMBERS_IMPORT_SYNC_ROWS`` rows run both passes in Celery, with progress on the
job row. See docs/members.md for why this is our own importer and not django-import-export.

Old systems' exports are messy, so reading is forgiving: a title row above the header, GB18030
CSV, full-width digits and spaces (NFKC), trailing spaces, "+86 138-0013-8000", Excel date
serials, "1985.3.7", exact duplicate rows (skipped). A row that matches a person already
registered (same phone, or same ID number) *updates* that person: only empty fields are
filled; a different value in the file is reported, never written. Columns a higher app owns
(card, tier, points, spend, stored value: loyalty) come in through
``members.registry.register_import_columns``. The commit is one transaction: it lands whole or
not at all, and re-running it (or importing the same file again) writes nothing twice.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from python_calamine import CalamineWorkbook

from clinic.fields import hidden_characters
from clinic.models import Branch
from clinic.phones import PhoneError, normalize_phone
from clinic.services import audit_record

from . import crypto
from .errors import ImportFileError
from .fields import EncryptedTextField
from .idnumbers import IdNumberError, birth_date_of, gender_of, normalize_id_number
from .models import AcquisitionChannel, ImportJob, Member, Stage, Tag
from .registry import import_columns
from .services import fill_derived

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
    "备注": "notes",
    "notes": "notes",
    "过敏史": "allergies",
    "药物过敏": "allergies",
    "allergies": "allergies",
    "既往病史": "conditions",
    "病史": "conditions",
    "conditions": "conditions",
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
    "last_visit": "最近就诊日期",
    "tags": "标签",
}
# Fields an update may fill on an existing person when they are empty there.
FILLABLE = ["gender", "birth_date", "id_number", "address", "occupation", "wechat_id", "channel_id",
            "allergies", "conditions", "notes", "last_visit_at", "card_no"]  # fmt: skip
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
EXCEL_EPOCH = dt.date(1899, 12, 30)
HEADER_SCAN_ROWS = 10  # title rows above the header ("会员信息导出 2026-11-30") are skipped
PREVIEW_ROWS = 20
MAX_ERRORS = 1000
CHUNK = 2000

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


def all_headers() -> dict[str, str]:
    """Header text → field, ours and every registered app's (their fields are prefixed with
    the app's key, ``loyalty.points``)."""
    headers = dict(HEADERS)
    for columns in import_columns():
        for header, field in columns.headers.items():
            headers[header] = f"{columns.key}.{field}"
    return headers


def _header_key(value) -> str:
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


def read_rows(path: Path) -> tuple[int, Iterator[tuple[int, dict]]]:
    """``(row count estimate, iterator of (spreadsheet row number, {field: text}))``.

    Raises ``ImportFileError`` if the file is not a spreadsheet, has no recognisable header
    in its first rows, or breaks while being read."""
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
    number, fields = 0, []
    for number, header in enumerate(source, start=1):
        fields = [headers.get(_header_key(h)) for h in header]
        if sum(1 for f in fields if f) >= 2 or "name" in fields:
            break
        if number >= HEADER_SCAN_ROWS:
            fields = []
            break
    if "name" not in fields and not any(f and f.startswith("phone") for f in fields):
        raise ImportFileError(
            _("No header row found: the file needs a 姓名 (name) or 手机号 (phone) column."),
            code="no_header",
        )
    header_row = number
    total = max(total - header_row, 0)

    def rows() -> Iterator[tuple[int, dict]]:
        for number, values in enumerate(source, start=header_row + 1):
            record = {}
            for field, value in zip(fields, values, strict=False):
                if field:
                    record[field] = (
                        value if not raw_values and isinstance(value, dt.date | dt.datetime) else _cell(value)
                    )
            if any(v not in ("", None) for v in record.values()):
                yield number, record

    return total, rows()


def _date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not value:
        return None
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


class RowValidator:
    """Checks one row at a time; keeps what it needs to catch duplicates inside the file and
    matches against the database (looked up in batches, not per row)."""

    def __init__(self, branch: Branch):
        self.branch = branch
        self.channels = {c.name: c.pk for c in AcquisitionChannel.objects.filter(is_active=True)}
        self.seen_phone_names: set[tuple[str, str]] = set()
        self.seen_ids: set[str] = set()
        self.seen_rows: set[int] = set()
        self.today = timezone.localdate()
        self.extensions = [(c, c.handler()) for c in import_columns()]

    def check(self, number: int, row: dict) -> tuple[Member | None, list[dict]]:
        """``(member, errors)``; ``member`` is None for a row with errors, and for an exact
        repeat of an earlier row (``errors`` then holds one notice, ``skipped``)."""
        errors = []

        def err(column: str, message: str) -> None:
            errors.append({"row": number, "column": column, "message": message})

        fingerprint = hash(tuple(sorted((k, str(v)) for k, v in row.items())))
        if fingerprint in self.seen_rows:
            return None, [
                {
                    "row": number,
                    "column": "",
                    "message": _("Skipped: the same row appears earlier in the file."),
                    "skipped": True,
                }
            ]
        self.seen_rows.add(fingerprint)
        name = " ".join(_cell(row.get("name")).split())
        if not name:
            err("姓名", _("Name is missing."))
        elif len(name) > 50:
            err("姓名", _("Name is longer than 50 characters."))
        elif hidden := hidden_characters(name):
            err(
                "姓名",
                _("Name contains invisible or control characters (%(chars)s).")
                % {"chars": ", ".join(hidden[:5])},
            )
        phone = ""
        if _cell(row.get("phone")):
            try:
                phone = normalize_phone(_cell(row.get("phone")))
            except PhoneError:
                err("手机号", _("Bad phone number: %(value)s") % {"value": _cell(row.get("phone"))})
        gender = GENDERS.get(_cell(row.get("gender")).lower())
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
                _("Bad date: %(value)s (use 2020-01-31)") % {"value": _cell(row.get("birth_date"))},
            )
        last_visit = None
        try:
            last_visit = _date(row.get("last_visit"))
            if last_visit and last_visit > self.today:
                err("最近就诊日期", _("The last visit is in the future: %(value)s") % {"value": last_visit})
                last_visit = None
        except ValueError:
            err(
                "最近就诊日期",
                _("Bad date: %(value)s (use 2020-01-31)") % {"value": _cell(row.get("last_visit"))},
            )
        id_number = ""
        if _cell(row.get("id_number")):
            try:
                id_number = normalize_id_number(_cell(row.get("id_number")))
                if birth and birth != birth_date_of(id_number):
                    err("出生日期", _("Birth date does not match the ID number."))
                birth = birth or birth_date_of(id_number)
                gender = gender or gender_of(id_number)
            except IdNumberError:
                err(
                    "身份证号",
                    _("Bad ID number (length, date or check digit): %(value)s")
                    % {"value": _cell(row.get("id_number"))},
                )
        channel_id = None
        channel = _cell(row.get("channel"))
        if channel:
            channel_id = self.channels.get(channel)
            if channel_id is None:
                err("来源渠道", _("Unknown acquisition channel: %(value)s") % {"value": channel})
        stage = STAGES.get(_cell(row.get("stage")).lower())
        if stage is None:
            err("阶段", _("Unknown stage: %(value)s") % {"value": _cell(row.get("stage"))})
        tags = [t[:30] for t in TAG_SPLIT.split(_cell(row.get("tags"))) if t]
        ext: dict[str, dict] = {}
        person: dict = {}
        for columns, handler in self.extensions:
            prefix = columns.key + "."
            values = {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
            if values:
                checked = handler.check(values, err)
                person.update(checked.pop("_member", {}))
                if checked:
                    ext[columns.key] = checked
        if errors:
            return None, errors
        if phone and (phone, name) in self.seen_phone_names:
            err("手机号", _("Duplicate: the same name and phone appear earlier in the file."))
        id_hash = crypto.lookup_hash(id_number) if id_number else ""
        if id_hash and id_hash in self.seen_ids:
            err("身份证号", _("Duplicate: the same ID number appears earlier in the file."))
        if errors:
            return None, errors
        if phone:
            self.seen_phone_names.add((phone, name))
        if id_hash:
            self.seen_ids.add(id_hash)
        allergies = _cell(row.get("allergies"))
        conditions = _cell(row.get("conditions"))
        member = Member(
            name=name,
            phone=phone,
            gender=gender,
            birth_date=birth,
            id_number=id_number,
            channel_id=channel_id,
            stage=person.get("stage", stage),
            card_no=person.get("card_no") or None,
            address=_cell(row.get("address"))[:255],
            occupation=_cell(row.get("occupation"))[:50],
            wechat_id=_cell(row.get("wechat_id"))[:50],
            notes=_cell(row.get("notes")),
            allergies=allergies,
            conditions=conditions,
            has_medical_alerts=bool(allergies or conditions),
            last_visit_at=(
                timezone.make_aware(dt.datetime.combine(last_visit, dt.time(12))) if last_visit else None
            ),
            branch=self.branch,
        )
        member._row = number
        member._tags = tags
        member._ext = ext
        member.id_number_hash = id_hash
        return member, []

    def against_database(self, batch: list[Member]) -> tuple[list[Member], list[dict]]:
        """Mark rows that match a person already registered (same ID number, or same phone and
        name) as updates of that person (``_match``, ``_conflicts``): one query per batch."""
        matches = match_existing(
            [(m.phone, m.name, m.id_number) for m in batch],
            fields=["pk", *_ONLY, "name", "phone"],
        )
        notices = []
        for i, m in enumerate(batch):
            existing = matches.get(i)
            m._match = existing.pk if existing else None
            if existing is None:
                continue
            for attname in FILLABLE:
                new, old = getattr(m, attname), getattr(existing, attname)
                if new not in ("", None) and old not in ("", None) and new != old:
                    field = next(f for f in Member._meta.concrete_fields if f.attname == attname)
                    notices.append(
                        {
                            "row": m._row,
                            "column": str(field.verbose_name),
                            "message": _("Kept the registered value; the file's value was not written."),
                            "notice": True,
                        }
                    )
        return batch, notices


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


def _batches(path: Path, branch: Branch, on_progress: Callable[[int, int], None] | None):
    """Validated batches: yields ``(valid members, errors, done, total)`` per CHUNK rows."""
    total, rows = read_rows(path)
    validator = RowValidator(branch)
    batch: list[Member] = []
    errors: list[dict] = []
    done = 0
    for number, row in rows:
        member, row_errors = validator.check(number, row)
        done += 1
        if member is not None:
            batch.append(member)
        errors.extend(row_errors)
        if done % CHUNK == 0:
            keep, notices = validator.against_database(batch)
            yield keep, errors + notices, done, max(total, done)
            batch, errors = [], []
    keep, notices = validator.against_database(batch)
    yield keep, errors + notices, done, max(total, done)


def _progress(job: ImportJob, done: int, total: int) -> None:
    ImportJob.objects.filter(pk=job.pk).update(processed_rows=done, total_rows=total)


def _preview_row(m: Member) -> dict:
    from clinic.phones import mask_phone

    return {
        "row": m._row,
        "action": "update" if m._match else "create",
        "name": m.name,
        "phone": mask_phone(m.phone),
        "gender": m.get_gender_display(),
        "birth_date": m.birth_date.isoformat() if m.birth_date else "",
        "id_number": bool(m.id_number),
        "stage": m.get_stage_display(),
        "card_no": m.card_no or "",
        "extra": {k: {f: str(v) for f, v in vals.items()} for k, vals in m._ext.items()},
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


def import_job_create(*, actor, branch: Branch, upload: UploadedFile) -> ImportJob:
    """Store the upload; validate now if it is small, otherwise in Celery. A file that is not
    a readable spreadsheet ends the job as failed at once, with the reason, and is removed."""
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
        total, _rows = read_rows(path)
    except ImportFileError as exc:
        _fail(job, exc.message)
        job.refresh_from_db()
        return job
    ImportJob.objects.filter(pk=job.pk).update(total_rows=total, source_digest=_digest(path))
    if total <= settings.MEMBERS_IMPORT_SYNC_ROWS:
        import_validate(job_id=job.pk)
    else:
        from .tasks import import_validate_task

        transaction.on_commit(lambda: import_validate_task.delay(job.pk))
    job.refresh_from_db()
    return job


def staging_path(job: ImportJob) -> Path:
    """Pass one's output: the valid rows, ready for the database (ID numbers already
    encrypted), one JSON object a line. Pass two reads this instead of the spreadsheet."""
    if not job.file:
        return Path(settings.MEDIA_ROOT) / "imports" / f"job-{job.pk}.staged.jsonl"
    return Path(job.file.path).with_suffix(".staged.jsonl")


# Columns written by pass two. Encrypted fields are encrypted here, as Member.save() would.
_FIELDS = [f for f in Member._meta.concrete_fields if not f.primary_key]
_ENCRYPTED = {f.attname for f in _FIELDS if isinstance(f, EncryptedTextField)}
_COLUMN = {f.attname: f.column for f in _FIELDS}


def _staged_row(m: Member) -> dict:
    fill_derived(m)
    row = {}
    for f in _FIELDS:
        value = getattr(m, f.attname)
        if value and f.attname in _ENCRYPTED:
            value = crypto.encrypt(value)
        elif isinstance(value, dt.date | dt.datetime):
            value = value.isoformat()
        row[f.column] = value
    return {"row": m._row, "member": row, "tags": m._tags, "ext": m._ext}


def import_validate(*, job_id: int) -> ImportJob:
    """Pass one: check every row, keep errors, a preview and the staged valid rows. Writes
    nothing to the member table. A file that breaks while being read ends as a failed job."""
    job = ImportJob.objects.get(pk=job_id)
    valid, errors, preview, notices = 0, [], [], []
    counts = {"create": 0, "update": 0, "skip": 0, "error": 0}
    try:
        with (
            translation.override(settings.LANGUAGE_CODE),
            staging_path(job).open("w", encoding="utf-8") as out,
        ):
            for keep, batch_errors, done, total in _batches(Path(job.file.path), job.branch, None):
                valid += len(keep)
                for e in batch_errors:
                    if e.get("notice") or e.get("skipped"):
                        counts["skip"] += 1 if e.get("skipped") else 0
                        if len(notices) < MAX_ERRORS:
                            notices.append(e)
                    elif len(errors) < MAX_ERRORS:
                        errors.append(e)
                counts["error"] += len(
                    {e["row"] for e in batch_errors if not (e.get("notice") or e.get("skipped"))}
                )
                preview.extend(_preview_row(m) for m in keep[: max(0, PREVIEW_ROWS - len(preview))])
                for m in keep:
                    counts["update" if m._match else "create"] += 1
                    out.write(json.dumps(_staged_row(m), ensure_ascii=False))
                    out.write("\n")
                _progress(job, done, total)
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


def import_confirm(*, actor, job: ImportJob) -> ImportJob:
    """Start pass two, once. A conditional UPDATE claims the job so a double click imports once."""
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEW).update(
        status=ImportJob.Status.IMPORTING, processed_rows=0
    )
    if not claimed:
        return job
    if job.total_rows <= settings.MEMBERS_IMPORT_SYNC_ROWS:
        import_commit(job_id=job.pk, actor_id=getattr(actor, "pk", None))
    else:
        from .tasks import import_commit_task

        actor_id = getattr(actor, "pk", None)
        transaction.on_commit(lambda: import_commit_task.delay(job.pk, actor_id))
    job.refresh_from_db()
    return job


def _staged_chunks(path: Path) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            chunk.append(json.loads(line))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


_FILL_COLUMNS = [_COLUMN[a] for a in FILLABLE] + ["id_number_hash", "id_number_masked", "has_medical_alerts"]


def _fill_existing(existing: Member, staged: dict, now: str, actor_id: int | None) -> bool:
    """Write the staged values into the registered person's empty fields only (raw UPDATE of
    the already-encrypted values; the history trigger records it). True if anything changed."""
    sets = {}
    for attname in FILLABLE:
        col = _COLUMN[attname]
        if staged.get(col) not in ("", None) and getattr(existing, attname) in ("", None):
            sets[col] = staged[col]
    if "id_number" in sets:
        sets["id_number_hash"] = staged["id_number_hash"]
        sets["id_number_masked"] = staged["id_number_masked"]
    if "allergies" in sets or "conditions" in sets:
        sets["has_medical_alerts"] = True
    if not sets:
        return False
    sets["updated_at"], sets["updated_by_id"] = now, actor_id
    assignments = ", ".join(f"{c} = %s" for c in sets)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Member._meta.db_table} SET {assignments} WHERE id = %s", [*sets.values(), existing.pk]
        )
    return True


def _tag_ids(names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    missing = [Tag(name=n) for n in names if n not in ids]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    return ids


def import_commit(*, job_id: int, actor_id: int | None) -> ImportJob:
    """Pass two, in ONE transaction: rows matching nobody are written with COPY (ids taken
    from the sequence first, so higher apps get them), rows matching a registered person
    fill that person's empty fields, then every registered app's columns are committed
    (points, tier, card…) with idempotency keys per (file, row). Anything failing rolls the
    whole import back and the job ends as failed; it can be uploaded again as it is."""
    job = ImportJob.objects.get(pk=job_id)
    actor = _actor(actor_id)
    created = updated = done = 0
    now = timezone.now().isoformat()
    columns = ["id", *(f.column for f in _FIELDS)]
    sql = f"COPY {Member._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    handlers = [(c.key, c.handler()) for c in import_columns()]
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # A bigger GIN pending list for this transaction: the three search indexes
                # take the rows in bulk instead of merging them row by row.
                cursor.execute("SET LOCAL gin_pending_list_limit = '32MB'")
            for chunk in _staged_chunks(staging_path(job)):
                done += len(chunk)
                members = [r["member"] for r in chunk]
                keys = [
                    (m["phone"], m["name"], crypto.decrypt(m["id_number"]) if m["id_number"] else "")
                    for m in members
                ]
                matches = match_existing(keys, fields=["pk", *_ONLY])
                new = [i for i in range(len(chunk)) if i not in matches]
                ids: dict[int, int] = {}
                if new:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                            [Member._meta.db_table, len(new)],
                        )
                        for i, (pk,) in zip(new, cursor.fetchall(), strict=True):
                            ids[i] = pk
                    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                        for i in new:
                            r = members[i]
                            r["id"] = ids[i]
                            r["created_at"] = r["updated_at"] = now
                            r["created_by_id"] = r["updated_by_id"] = actor_id
                            copy.write_row([r[c] for c in columns])
                    created += len(new)
                for i, existing in matches.items():
                    ids[i] = existing.pk
                    updated += _fill_existing(existing, members[i], now, actor_id)
                tag_ids = _tag_ids({t for r in chunk for t in r["tags"]})
                through = Member.tags.through
                through.objects.bulk_create(
                    [
                        through(member_id=ids[i], tag_id=tag_ids[t])
                        for i, r in enumerate(chunk)
                        for t in set(r["tags"])
                    ],
                    ignore_conflicts=True,
                )
                for key, handler in handlers:
                    rows = [(ids[i], r["row"], r["ext"][key]) for i, r in enumerate(chunk) if key in r["ext"]]
                    if rows:
                        handler.commit(actor=actor, job=job, rows=rows)
                _progress(job, done, max(done, job.total_rows))
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


def _actor(actor_id: int | None):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
