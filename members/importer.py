"""Import people from an old system's spreadsheet (.xlsx or .csv).

Two passes over the file: **validate** (every row checked, errors kept per row and column in
the user's language, a preview of the first valid rows; nothing written to the member table)
and, once a person confirms, **commit** (the file is read and validated again, so anything
registered in between is caught as a duplicate, then written in chunks with ``bulk_create``).
Files over ``MEMBERS_IMPORT_SYNC_ROWS`` rows run both passes in Celery, with progress on the
job row. See docs/members.md for why this is our own importer and not django-import-export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
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
from .fields import EncryptedTextField
from .idnumbers import IdNumberError, birth_date_of, gender_of, normalize_id_number
from .models import AcquisitionChannel, ImportJob, Member, Stage
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
}
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
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
PREVIEW_ROWS = 20
MAX_ERRORS = 1000
CHUNK = 2000


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_rows(path: Path) -> tuple[int, Iterator[tuple[int, dict]]]:
    """``(row count estimate, iterator of (spreadsheet row number, {field: text}))``."""
    if path.suffix.lower() == ".csv":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")  # what Excel on a Chinese Windows saves
        lines = list(csv.reader(io.StringIO(text)))
        header, body = (lines[0], lines[1:]) if lines else ([], [])
        total = len(body)
        source: Iterator = iter(body)
        raw_values = True
    else:
        # calamine (Rust) reads a sheet ~10x faster than openpyxl, and old .xls files too.
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        it = sheet.iter_rows()
        header = list(next(it, []) or [])
        total = max(sheet.height - 1, 0)
        source = it
        raw_values = False
    fields = [HEADERS.get(_cell(h).lower() if _cell(h).isascii() else _cell(h)) for h in header]

    def rows() -> Iterator[tuple[int, dict]]:
        for number, values in enumerate(source, start=2):
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
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(value)


class RowValidator:
    """Checks one row at a time; keeps what it needs to catch duplicates inside the file and
    against the database (looked up in batches, not per row)."""

    def __init__(self, branch: Branch):
        self.branch = branch
        self.channels = {c.name: c.pk for c in AcquisitionChannel.objects.filter(is_active=True)}
        self.seen_phone_names: set[tuple[str, str]] = set()
        self.seen_ids: set[str] = set()
        self.today = timezone.localdate()

    def check(self, number: int, row: dict) -> tuple[Member | None, list[dict]]:
        errors = []

        def err(column: str, message: str) -> None:
            errors.append({"row": number, "column": column, "message": message})

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
        member = Member(
            name=name,
            phone=phone,
            gender=gender,
            birth_date=birth,
            id_number=id_number,
            channel_id=channel_id,
            stage=stage,
            address=_cell(row.get("address"))[:255],
            occupation=_cell(row.get("occupation"))[:50],
            wechat_id=_cell(row.get("wechat_id"))[:50],
            notes=_cell(row.get("notes")),
            branch=self.branch,
        )
        member._row = number
        member.id_number_hash = id_hash
        return member, []

    def against_database(self, batch: list[Member]) -> tuple[list[Member], list[dict]]:
        """Drop rows that duplicate a person already registered (same phone and name, or same
        ID number): one query per batch."""
        phones = {m.phone for m in batch if m.phone}
        # Every hash an existing row may carry (the current key's and, during a key rotation,
        # the fallback keys'), each mapped back to the current one the new row stores.
        alias = {h: m.id_number_hash for m in batch if m.id_number for h in crypto.lookup_hashes(m.id_number)}
        hashes = set(alias)
        existing_pairs = (
            set(Member.objects.filter(phone__in=phones).values_list("phone", "name")) if phones else set()
        )
        existing_ids = (
            {
                alias[h]
                for h in Member.objects.filter(id_number_hash__in=hashes).values_list(
                    "id_number_hash", flat=True
                )
            }
            if hashes
            else set()
        )
        keep, errors = [], []
        for m in batch:
            if m.id_number_hash and m.id_number_hash in existing_ids:
                errors.append(
                    {
                        "row": m._row,
                        "column": "身份证号",
                        "message": _("Duplicate: this ID number is already registered."),
                    }
                )
            elif m.phone and (m.phone, m.name) in existing_pairs:
                errors.append(
                    {
                        "row": m._row,
                        "column": "手机号",
                        "message": _("Duplicate: a person with this name and phone is already registered."),
                    }
                )
            else:
                keep.append(m)
        return keep, errors


def _batches(path: Path, branch: Branch, on_progress: Callable[[int, int], None] | None):
    """Validated batches: yields ``(valid members, errors)`` per CHUNK rows."""
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
            keep, dup = validator.against_database(batch)
            yield keep, errors + dup, done, max(total, done)
            batch, errors = [], []
    keep, dup = validator.against_database(batch)
    yield keep, errors + dup, done, max(total, done)


def _progress(job: ImportJob, done: int, total: int) -> None:
    ImportJob.objects.filter(pk=job.pk).update(processed_rows=done, total_rows=total)


def _preview_row(m: Member) -> dict:
    from clinic.phones import mask_phone

    return {
        "row": m._row,
        "name": m.name,
        "phone": mask_phone(m.phone),
        "gender": m.get_gender_display(),
        "birth_date": m.birth_date.isoformat() if m.birth_date else "",
        "id_number": bool(m.id_number),
        "stage": m.get_stage_display(),
    }


def import_job_create(*, actor, branch: Branch, upload: UploadedFile) -> ImportJob:
    """Store the upload; validate now if it is small, otherwise in Celery."""
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
    total, _rows = read_rows(Path(job.file.path))
    ImportJob.objects.filter(pk=job.pk).update(total_rows=total)
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
    return Path(job.file.path).with_suffix(".staged.jsonl")


# Columns written by pass two. Encrypted fields are encrypted here, as Member.save() would.
_FIELDS = [f for f in Member._meta.concrete_fields if not f.primary_key]
_ENCRYPTED = {f.attname for f in _FIELDS if isinstance(f, EncryptedTextField)}


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
    return row


def import_validate(*, job_id: int) -> ImportJob:
    """Pass one: check every row, keep errors, a preview and the staged valid rows. Writes
    nothing to the member table."""
    job = ImportJob.objects.get(pk=job_id)
    valid, errors, preview = 0, [], []
    try:
        with (
            translation.override(settings.LANGUAGE_CODE),
            staging_path(job).open("w", encoding="utf-8") as out,
        ):
            for keep, batch_errors, done, total in _batches(Path(job.file.path), job.branch, None):
                valid += len(keep)
                errors.extend(batch_errors[: max(0, MAX_ERRORS - len(errors))])
                preview.extend(_preview_row(m) for m in keep[: max(0, PREVIEW_ROWS - len(preview))])
                for m in keep:
                    out.write(json.dumps(_staged_row(m), ensure_ascii=False))
                    out.write("\n")
                _progress(job, done, total)
    except Exception as exc:  # a broken file must end as a failed job, not a stuck one
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, message=str(exc)[:300], finished_at=timezone.now()
        )
        raise
    errors.sort(key=lambda e: e["row"])
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.PREVIEW, valid_rows=valid, errors=errors, preview=preview
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


def _still_new(chunk: list[dict]) -> list[dict]:
    """Drop rows that someone registered between preview and confirm (or that an earlier,
    interrupted run of this job already wrote)."""
    phones = {r["phone"] for r in chunk if r["phone"]}
    hashes = {r["id_number_hash"] for r in chunk if r["id_number_hash"]}
    pairs = set(Member.objects.filter(phone__in=phones).values_list("phone", "name")) if phones else set()
    ids = (
        set(Member.objects.filter(id_number_hash__in=hashes).values_list("id_number_hash", flat=True))
        if hashes
        else set()
    )
    return [r for r in chunk if (r["phone"], r["name"]) not in pairs and r["id_number_hash"] not in ids]


def import_commit(*, job_id: int, actor_id: int | None) -> ImportJob:
    """Pass two: write the staged rows with COPY in chunks, each chunk in its own transaction
    with its audit row (so progress shows, and a crash keeps whole chunks; a re-run skips
    what was written). Row triggers still fire, so field history records every insert."""
    job = ImportJob.objects.get(pk=job_id)
    imported = done = 0
    now = timezone.now().isoformat()
    columns = [f.column for f in _FIELDS]
    sql = f"COPY {Member._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    try:
        for chunk in _staged_chunks(staging_path(job)):
            done += len(chunk)
            rows = _still_new(chunk)
            with transaction.atomic():
                if rows:
                    with connection.cursor() as cursor:
                        # A bigger GIN pending list for this transaction: the three search
                        # indexes take the rows in bulk instead of merging them row by row.
                        cursor.execute("SET LOCAL gin_pending_list_limit = '32MB'")
                    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                        for r in rows:
                            r["created_at"] = r["updated_at"] = now
                            r["created_by_id"] = r["updated_by_id"] = actor_id
                            copy.write_row([r[c] for c in columns])
                    audit_record(
                        actor=_actor(actor_id),
                        action="members.import.committed",
                        target=job,
                        branch=job.branch,
                        changes={"rows": len(rows), "through_row": done},
                    )
            imported += len(rows)
            ImportJob.objects.filter(pk=job.pk).update(processed_rows=done, imported_rows=imported)
    except Exception as exc:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, message=str(exc)[:300], finished_at=timezone.now()
        )
        raise
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE,
        imported_rows=imported,
        processed_rows=done,
        total_rows=max(done, job.valid_rows),
        finished_at=timezone.now(),
    )
    staging_path(job).unlink(missing_ok=True)
    job.refresh_from_db()
    return job


def _actor(actor_id: int | None):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
