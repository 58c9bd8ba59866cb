"""clinic.bulk: what COPY receives reads back exactly as sent."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection

from clinic.bulk import copy_file, copy_insert, copy_line

pytestmark = pytest.mark.django_db

ROWS = [
    ["tab\there", ['a"b', "c\\d", "逗,号"], {"k": "v\n2"}, True, None, Decimal("12.50"), dt.date(2026, 1, 2)],
    ["line\nbreak\r\\back", [], {}, False, 7, Decimal("0"), None],
    ["", ["{brace}", " "], {"钻石": 1}, None, None, None, dt.date(1985, 3, 7)],
]
COLUMNS = ["t", "arr", "j", "b", "i", "d", "day"]


def _table():
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bulk_check (t text, arr text[], j jsonb, b boolean, i integer, d numeric, day date)"
        )


def _read():
    with connection.cursor() as cursor:
        cursor.execute("SELECT t, arr, j, b, i, d, day FROM bulk_check ORDER BY ctid")
        # Django reads jsonb as text.
        return [[t, arr, json.loads(j), *rest] for t, arr, j, *rest in cursor.fetchall()]


def test_copy_insert_round_trips_every_kind_of_value():
    _table()
    assert copy_insert("bulk_check", COLUMNS, ROWS) == 3
    assert _read() == ROWS


def test_copy_file_streams_lines_written_before(tmp_path):
    _table()
    path = tmp_path / "staged.tsv"
    path.write_text("".join(copy_line(r) for r in ROWS * 3), encoding="utf-8")
    copy_file("bulk_check", COLUMNS, path)
    assert _read() == ROWS * 3
