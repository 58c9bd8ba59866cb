"""COPY, the fastest way rows get into PostgreSQL: one text stream per table instead of one
INSERT (or one ORM object) per row. Used where thousands of rows arrive at once (the member
import's staging table, benchmarks). Row triggers, constraints and statement-level history
triggers fire as for any INSERT, so the database's rules hold for copied rows too.

``copy_line`` encodes one row in COPY's text format; ``copy_insert`` sends rows;
``copy_file`` streams a file of lines already encoded (a staging file written earlier), in
blocks, so a million-row file is never held in memory.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

from django.db import connection

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
BLOCK = 1 << 20


def _array_item(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def copy_value(value) -> str:
    """One value in COPY text format: None is NULL (``\\N``), booleans ``t``/``f``, lists a
    PostgreSQL text array, dicts JSON, dates ISO; text escaped."""
    if type(value) is str:
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_ESCAPES)
        return value
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return ("{" + ",".join(_array_item(str(v)) for v in value) + "}").translate(_ESCAPES)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_ESCAPES)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value).translate(_ESCAPES)


def copy_line(values: Sequence) -> str:
    return "\t".join(map(copy_value, values)) + "\n"


def copy_insert(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY ``rows`` (sequences in ``columns`` order) into ``table``; returns the row count."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        buffer: list[str] = []
        size = 0
        for row in rows:
            line = copy_line(row)
            buffer.append(line)
            size += len(line)
            count += 1
            if size >= BLOCK:
                copy.write("".join(buffer))
                buffer, size = [], 0
        if buffer:
            copy.write("".join(buffer))
    return count


def copy_file(table: str, columns: Sequence[str], path: Path) -> None:
    """COPY a file of lines in COPY text format (UTF-8) into ``table``, in 1 MB blocks."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy, path.open("rb") as fh:
        while block := fh.read(BLOCK):
            copy.write(block)
