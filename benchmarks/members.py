"""The person record at scale: generation with COPY, the five instant-search kinds next to
their raw SQL, the profile page's query count, and spreadsheet import against
django-import-export's default row-by-row import of the same file.

    python -m benchmarks.members --members 1000000
    python -m benchmarks.members --small          # make bench: 20,000 people, 2,000-row import

The migration import (issue 12 §2): a CSV with card, tier, points and spend columns,
validated and committed (``--full-rows``, default 100,000), next to the floor: COPY of the
same staged rows into the member table alone. Then a ``--stream-rows`` (default 1,000,000)
file is streamed through validation (and the commit, with ``--stream-commit``) in a child
process, whose peak RSS is reported.

Ends with one line:
BENCH members members=<n> gen_s=<s> search_p95_ms_max=<ms> search_floor_ratio_max=<x>
      profile_queries=<n> import_rows_per_s=<r> baseline_import_rows_per_s=<r>
      import_full_rows_per_s=<r> import_floor_rows_per_s=<r> import_1m_peak_rss_mb=<mb>
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from benchmarks._common import (
    MEMBER_COLUMNS,
    bench_line,
    copy_rows,
    p95,
    parser,
    raw_sql,
    setup_django,
    summary,
    time_calls,
)

MARK = "bench"  # other_contacts of generated rows: the generator finds (and replaces) its own

# Surnames with their share of the population (per cent, 2020 census order), then a tail of
# rarer ones including the polyphonic surnames the search must read right.
SURNAMES = [
    ("王", 7.1),
    ("李", 7.0),
    ("张", 6.7),
    ("刘", 5.4),
    ("陈", 4.5),
    ("杨", 3.1),
    ("黄", 2.2),
    ("赵", 2.0),
    ("吴", 2.0),
    ("周", 1.9),
    ("徐", 1.5),
    ("孙", 1.4),
    ("马", 1.3),
    ("朱", 1.2),
    ("胡", 1.1),
    ("郭", 1.1),
    ("何", 1.1),
    ("高", 1.0),
    ("林", 1.0),
    ("罗", 0.9),
    ("郑", 0.9),
    ("梁", 0.9),
    ("谢", 0.8),
    ("宋", 0.8),
    ("唐", 0.8),
    ("许", 0.7),
    ("韩", 0.7),
    ("冯", 0.7),
    ("邓", 0.7),
    ("曹", 0.6),
    ("彭", 0.6),
    ("曾", 0.6),
    ("肖", 0.6),
    ("田", 0.5),
    ("董", 0.5),
    ("袁", 0.5),
    ("潘", 0.5),
    ("于", 0.5),
    ("蒋", 0.5),
    ("蔡", 0.5),
    ("余", 0.5),
    ("杜", 0.4),
    ("叶", 0.4),
    ("程", 0.4),
    ("苏", 0.4),
    ("魏", 0.4),
    ("吕", 0.4),
    ("丁", 0.4),
    ("任", 0.4),
    ("沈", 0.4),
    ("姚", 0.3),
    ("卢", 0.3),
    ("姜", 0.3),
    ("崔", 0.3),
    ("钟", 0.3),
    ("谭", 0.3),
    ("陆", 0.3),
    ("汪", 0.3),
    ("范", 0.3),
    ("金", 0.3),
    ("石", 0.3),
    ("廖", 0.3),
    ("贾", 0.3),
    ("夏", 0.3),
    ("单", 0.05),
    ("解", 0.05),
    ("区", 0.02),
    ("仇", 0.03),
    ("朴", 0.03),
    ("查", 0.03),
    ("盖", 0.02),
    ("覃", 0.05),
    ("欧阳", 0.05),
    ("尉迟", 0.005),
    ("上官", 0.01),
    ("司马", 0.01),
    ("诸葛", 0.01),
]
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌建国志宏海波鑫"
    "浩宇子涵欣怡梓轩雨萱一诺思远佳琪晨阳家豪俊杰博文嘉怡诗涵雅婷晓东晓燕春梅国庆小龙天佑振华"
)
CHANNEL_CODES = ["dianping", "meituan", "douyin", "xiaohongshu", "baidu", "referral", "street", "walk_in"]
PHONE_PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "157",
                  "158", "159", "177", "180", "181", "182", "186", "187", "188", "189"]  # fmt: skip


class Syllables:
    """Pinyin per character, cached: a million names in seconds instead of minutes. Surnames
    go through the project's own table, so polyphonic ones read as the search expects."""

    def __init__(self):
        from pypinyin import Style, lazy_pinyin

        from members.names import syllables

        self._surname = {s: syllables(s) for s, _w in SURNAMES}
        self._char = {c: lazy_pinyin(c, style=Style.NORMAL)[0] for c in set(GIVEN)}

    def of(self, surname: str, given: str) -> list[str]:
        return self._surname[surname] + [self._char[c] for c in given]


def _grams(name: str) -> str:
    grams = sorted({name[i : i + n] for n in (1, 2) for i in range(len(name) - n + 1)})
    return "{" + ",".join(grams) + "}"


def existing(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM members_member WHERE other_contacts = %s", [MARK])
        return cursor.fetchone()[0]


def _search_indexes(connection) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT indexname, indexdef FROM pg_indexes
               WHERE tablename = 'members_member' AND indexname NOT LIKE '%%pkey'
                 AND indexdef NOT LIKE 'CREATE UNIQUE%%'"""
        )
        return cursor.fetchall()


def generate(n: int, branch_ids: list[int], channel_ids: list[int]) -> float:
    """Write ``n`` people with COPY: indexes dropped during the load and rebuilt after (far
    faster than maintaining three GIN indexes row by row), history triggers off for the
    session (this is a bulk load of synthetic data, not a change anyone made)."""
    from django.db import connection, transaction

    start = time.perf_counter()
    rng = random.Random(4)
    names, weights = zip(*SURNAMES, strict=True)
    cum = list(__import__("itertools").accumulate(weights))
    py = Syllables()
    now = dt.datetime.now(dt.UTC)
    today = dt.date.today()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("DELETE FROM members_member WHERE other_contacts = %s", [MARK])
        indexes = _search_indexes(connection)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')

        def rows():
            choices = rng.choices
            for i in range(n):
                surname = choices(names, cum_weights=cum)[0]
                given = "".join(rng.sample(GIVEN, 1 if rng.random() < 0.3 else 2))
                name = surname + given
                syl = py.of(surname, given)
                digits = f"{PHONE_PREFIXES[i % len(PHONE_PREFIXES)]}{rng.randrange(100_000_000):08d}"
                stage = "member" if i % 5 == 0 else ("patient" if i % 5 < 4 else "lead")
                birth = today - dt.timedelta(days=rng.randrange(3 * 365, 85 * 365))
                created = now - dt.timedelta(minutes=rng.randrange(0, 5 * 365 * 1440))
                last_visit = created + dt.timedelta(days=rng.randrange(0, 300)) if stage != "lead" else None
                yield (
                    name, rng.choice("MF"), birth.isoformat(), "+86" + digits, MARK, "", "", "", "", "", "", "",
                    rng.choice(branch_ids), rng.choice(channel_ids), None, stage, "active", "zh-hans",
                    f"M{i:09d}" if stage == "member" else None, "f", "", "", "", "f",
                    last_visit.isoformat() if last_visit else None, created.isoformat(), created.isoformat(),
                    digits, digits[-4:], "".join(syl), "".join(s[0] for s in syl), _grams(name),
                )  # fmt: skip

        copy_rows("members_member", MEMBER_COLUMNS, rows())
        loaded = time.perf_counter()
        for _name, definition in indexes:
            cursor.execute(definition)
        print(
            f"generated {n} people: load {loaded - start:.1f}s, indexes {time.perf_counter() - loaded:.1f}s"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE members_member")
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        # Kept with the data, so a later run that reuses it still reports how long it took.
        cursor.execute(f"COMMENT ON TABLE members_member IS 'bench members={n} gen_s={elapsed:.2f}'")
    return elapsed


def recorded_gen_s(connection, n: int) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description('members_member'::regclass, 'pg_class')")
        comment = cursor.fetchone()[0] or ""
    if f"members={n} " in comment:
        return float(comment.rsplit("gen_s=", 1)[1])
    return 0.0


def sample_queries(connection, kind: str, count: int, rng: random.Random) -> list[str]:
    extra = {"card_number": "AND card_no IS NOT NULL", "name_substring": "AND length(name) >= 3"}.get(
        kind, ""
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [rng.random()])
        cursor.execute(
            f"""SELECT name, phone_digits, pinyin_initials, card_no FROM members_member
                WHERE other_contacts = %s {extra} ORDER BY random() LIMIT %s""",
            [MARK, count],
        )
        rows = cursor.fetchall()
    rng.shuffle(rows)
    out = []
    for name, digits, initials, card in rows:
        if kind == "phone_last4":
            out.append(digits[-4:])
        elif kind == "phone_prefix":
            out.append(digits[:7])
        elif kind == "name_substring":
            if len(name) >= 3:
                out.append(name[-2:])  # the given name: the substring people type
        elif kind == "pinyin_initials":
            out.append(initials)
        elif kind == "card_number" and card:
            out.append(card)
        if len(out) >= count:
            break
    return out


def measure_search(user, repeat: int) -> dict[str, dict]:
    from django.db import connection

    from members.selectors import SEARCH_FIELDS, SEARCH_LIMIT, member_search, search_queryset

    rng = random.Random(9)
    results = {}
    for kind in ["phone_last4", "phone_prefix", "name_substring", "pinyin_initials", "card_number"]:
        queries = sample_queries(connection, kind, repeat, rng)
        orm, floor, orm_all = [], [], []
        for q in queries:
            sql, params = (
                search_queryset(q).values_list(*SEARCH_FIELDS)[:SEARCH_LIMIT].query.sql_with_params()
            )
            raw = raw_sql(sql, params)
            # Interleaved, best of three per query: the other processes on a shared machine
            # add noise to single samples that has nothing to do with either code path.
            floor.append(min(time_calls(raw, repeat=3, warmup=1)))
            samples = time_calls(lambda q=q: member_search(user, q), repeat=3, warmup=1)
            orm.append(min(samples))
            orm_all.extend(samples)
        ratio = p95(orm) / max(p95(floor), 1e-6)
        # The latency figure is every sample's p95; the ratio compares best-of-three to best-of-three.
        results[kind] = {"p95": p95(orm_all), "floor_p95": p95(floor), "ratio": ratio}
        print(
            f"search {kind:<16} all samples {summary(orm_all)} | best of 3: orm {summary(orm)} "
            f"raw {summary(floor)} ratio {ratio:.2f} ({len(queries)} queries)"
        )
    return results


def profile_queries(user) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from members.models import Member

    member = Member.objects.filter(other_contacts=MARK, stage="member").order_by("id").first()
    client = Client(HTTP_HOST="localhost")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    client.get(f"/members/{member.pk}/")  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/members/{member.pk}/")
    assert response.status_code == 200, response.status_code
    print(f"profile page: {len(ctx)} queries")
    return len(ctx)


def write_import_file(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    rng = random.Random(11)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("客户")
    ws.append(["姓名", "手机号", "性别", "出生日期", "来源渠道", "阶段", "备注"])
    channels = ["大众点评", "美团", "抖音", "朋友介绍", "路过"]
    for i in range(rows):
        surname = rng.choice("王李张刘陈杨黄赵吴周")
        ws.append(
            [
                surname + "".join(rng.sample(GIVEN, 2)),
                f"199{i:08d}",
                rng.choice("男女"),
                (dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(20000))).isoformat(),
                rng.choice(channels),
                rng.choice(["已就诊", "潜客", "会员"]),
                "旧系统导入",
            ]
        )
    wb.save(path)


def _delete_imported(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM members_member WHERE phone LIKE '+86199%%'")
        cursor.execute("SET session_replication_role = DEFAULT")


def measure_import(user, branch, rows: int, baseline_rows: int) -> tuple[float, float]:
    from django.core.files import File
    from django.db import connection
    from import_export import resources
    from tablib import Dataset

    from members import importer
    from members.models import ImportJob, Member

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "import.xlsx"
        t0 = time.perf_counter()
        write_import_file(path, rows)
        print(f"wrote a {rows}-row xlsx in {time.perf_counter() - t0:.1f}s")
        _delete_imported(connection)
        with path.open("rb") as fh:
            job = ImportJob.objects.create(original_name="bench.xlsx", branch=branch, created_by=user)
            job.file.save("bench-import.xlsx", File(fh), save=True)
        start = time.perf_counter()
        job = importer.import_validate(job_id=job.pk)
        validated = time.perf_counter()
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.IMPORTING)
        job = importer.import_commit(job_id=job.pk, actor_id=user.pk)
        done = time.perf_counter()
        assert job.imported_rows == rows, (job.imported_rows, job.errors[:3])
        ours = rows / (done - start)
        print(
            f"import (ours, validate + confirm): {rows} rows in {done - start:.1f}s "
            f"(validate {validated - start:.1f}s, write {done - validated:.1f}s) = {ours:.0f} rows/s"
        )
        job.file.delete(save=False)
        _delete_imported(connection)

        class BaselineResource(resources.ModelResource):
            class Meta:
                model = Member
                fields = ("name", "phone", "gender", "birth_date", "branch", "stage", "notes")
                import_id_fields = ("phone",)

        from openpyxl import load_workbook

        ws = load_workbook(path, read_only=True).active
        data = Dataset(headers=["name", "phone", "gender", "birth_date", "stage", "notes", "branch"])
        for i, r in enumerate(ws.iter_rows(min_row=2, values_only=True)):
            if i >= baseline_rows:
                break
            data.append([r[0], "+86" + r[1], "M" if r[2] == "男" else "F", r[3], "patient", r[6], branch.pk])
        start = time.perf_counter()
        result = BaselineResource().import_data(data, dry_run=False, raise_errors=True)
        elapsed = time.perf_counter() - start
        assert not result.has_errors()
        baseline = len(data) / elapsed
        print(
            f"import (django-import-export default, row by row): {len(data)} rows of the same file "
            f"in {elapsed:.1f}s = {baseline:.0f} rows/s"
        )
        _delete_imported(connection)
    return ours, baseline


FULL_HEADER = ["姓名", "手机号", "性别", "出生日期", "会员卡号", "会员等级", "积分余额", "积分到期日",
               "累计消费", "近12个月消费", "消费次数", "备注"]  # fmt: skip
FULL_PREFIX = "198"  # phones of the full-column file: deleted (with their loyalty rows) after


def write_full_file(path: Path, rows: int) -> None:
    """An old system's member export, written as CSV (GB18030, as Chinese Excel saves it)."""
    import csv

    rng = random.Random(12)
    tiers = ["普通会员", "银卡", "金卡", "VIP"]
    with path.open("w", encoding="gb18030", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["会员信息导出 2026-11-30"])
        w.writerow(FULL_HEADER)
        for i in range(rows):
            spend = rng.randrange(0, 30000)
            w.writerow(
                [
                    rng.choice("王李张刘陈杨黄赵吴周") + "".join(rng.sample(GIVEN, 2)),
                    f"+86 {FULL_PREFIX}-{i // 10000:04d}-{i % 10000:04d}",
                    rng.choice("男女"),
                    f"{rng.randrange(1950, 2010)}.{rng.randrange(1, 13)}.{rng.randrange(1, 29)}",
                    f"OLD{i:08d}",
                    rng.choice(tiers),
                    rng.randrange(0, 5000),
                    "",
                    spend + rng.randrange(0, 5000),
                    spend,
                    rng.randrange(0, 8),
                    "旧系统导入 ",
                ]
            )


def _delete_full(connection) -> None:
    """Remove what a full-column import wrote (people and their loyalty rows)."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        ids = f"SELECT id FROM members_member WHERE phone LIKE '+86{FULL_PREFIX}%%'"
        acc = f"SELECT id FROM loyalty_pointsaccount WHERE member_id IN ({ids})"
        for sql in (
            f"DELETE FROM loyalty_pointslot WHERE account_id IN ({acc})",
            f"DELETE FROM loyalty_pointsentry WHERE account_id IN ({acc})",
            f"DELETE FROM loyalty_pointsaccount WHERE member_id IN ({ids})",
            f"DELETE FROM loyalty_purchase WHERE member_id IN ({ids})",
            f"DELETE FROM loyalty_tierchange WHERE member_id IN ({ids})",
            f"DELETE FROM loyalty_membership WHERE member_id IN ({ids})",
            f"DELETE FROM members_member WHERE phone LIKE '+86{FULL_PREFIX}%%'",
        ):
            cursor.execute(sql)
        cursor.execute("SET session_replication_role = DEFAULT")


def _job_for(path: Path, branch, user):
    from django.core.files import File

    from members import importer
    from members.models import ImportJob

    with path.open("rb") as fh:
        job = ImportJob.objects.create(original_name=path.name, branch=branch, created_by=user)
        job.file.save(path.name, File(fh), save=True)
    ImportJob.objects.filter(pk=job.pk).update(source_digest=importer._digest(path))
    return job


def copy_floor(staged: Path) -> float:
    """Seconds to COPY the staged rows' member columns (encoded beforehand) into the member
    table, in a transaction rolled back: what the database needs for the rows alone."""
    from django.db import connection, transaction

    from members import importer

    now = dt.datetime.now(dt.UTC).isoformat()
    skip = len(importer.STAGE_COLUMNS) - len(importer.MEMBER_COLUMNS)
    with staged.open(encoding="utf-8") as fh:
        data = "".join(line.rstrip("\n").split("\t", skip)[skip] + f"\t{now}\t{now}\n" for line in fh)
    sql = f"COPY members_member ({', '.join(importer.MEMBER_COLUMNS)}, created_at, updated_at) FROM STDIN"
    with transaction.atomic():
        start = time.perf_counter()
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for i in range(0, len(data), 1 << 20):
                copy.write(data[i : i + (1 << 20)])
        elapsed = time.perf_counter() - start
        transaction.set_rollback(True)
    return elapsed


def measure_full_import(user, branch, rows: int) -> tuple[float, float]:
    """(validate + commit rows/s of the full-column file, COPY floor rows/s of the same rows)."""
    from django.db import connection

    from members import importer
    from members.models import ImportJob

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "full.csv"
        write_full_file(path, rows)
        _delete_full(connection)
        job = _job_for(path, branch, user)
        start = time.perf_counter()
        job = importer.import_validate(job_id=job.pk)
        validated = time.perf_counter()
        assert job.valid_rows == rows, (job.valid_rows, job.errors[:3])
        # The floor: the same staged rows, COPY into the member table alone, rolled back.
        floor_s = copy_floor(importer.staging_path(job))
        floor = rows / floor_s
        print(f"import floor (COPY of the same {rows} rows): {floor_s:.1f}s = {floor:.0f} rows/s")
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.IMPORTING)
        commit_start = time.perf_counter()
        job = importer.import_commit(job_id=job.pk, actor_id=user.pk)
        done = time.perf_counter()
        done = validated + (done - commit_start)  # the floor measurement in between is not ours
        assert job.imported_rows == rows, (job.imported_rows, job.message)
        full = rows / (done - start)
        print(
            f"import (full columns: card, tier, points, spend): {rows} rows in {done - start:.1f}s "
            f"(validate {validated - start:.1f}s, commit {done - validated:.1f}s) = {full:.0f} rows/s"
        )
        _delete_full(connection)
        job.file.delete(save=False)
    return full, floor


def stream_child(rows: int, commit: bool) -> None:
    """In a child process: write a ``rows``-row file, validate it (and commit it, with
    ``--stream-commit``), clean up."""
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from clinic.models import Branch
    from members import importer
    from members.models import ImportJob

    settings.MEDIA_ROOT = Path(tempfile.gettempdir()) / "clinic-bench-media"
    user = get_user_model().objects.get(username="bench_admin")
    branch = Branch.objects.get(code="BJA")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stream.csv"
        write_full_file(path, rows)
        _delete_full(connection)
        job = _job_for(path, branch, user)
        start = time.perf_counter()
        job = importer.import_validate(job_id=job.pk)
        assert job.valid_rows == rows, (job.valid_rows, job.errors[:3])
        print(f"streamed {rows} rows: validated in {time.perf_counter() - start:.1f}s")
        if commit:
            ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.IMPORTING)
            job = importer.import_commit(job_id=job.pk, actor_id=user.pk)
            print(f"streamed {rows} rows: {job.imported_rows} imported in {time.perf_counter() - start:.1f}s")
            assert job.imported_rows == rows, job.message
        importer.staging_path(job).unlink(missing_ok=True)
        _delete_full(connection)
        job.file.delete(save=False)


def measure_stream(rows: int, commit: bool = False) -> float:
    """Peak RSS (MB) of a child process that streams a ``rows``-row file through validation
    (and the commit, with ``commit``)."""
    import resource
    import subprocess
    import sys

    command = [sys.executable, "-m", "benchmarks.members", "--stream-child", str(rows)]
    subprocess.run(command + (["--stream-commit"] if commit else []), check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"import of {rows} rows ({'validate + commit' if commit else 'validate'}): peak RSS {peak:.0f} MB")
    return peak


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=1_000_000)
    p.add_argument("--import-rows", type=int, default=100_000)
    p.add_argument(
        "--baseline-rows", type=int, default=10_000, help="rows of the same file for the slow baseline"
    )
    p.add_argument("--repeat", type=int, default=200, help="queries per search kind (each timed 3 times)")
    p.add_argument("--regenerate", action="store_true", help="generate even if the data is there")
    p.add_argument("--full-rows", type=int, default=100_000, help="rows of the full-column migration file")
    p.add_argument("--stream-rows", type=int, default=1_000_000, help="rows of the memory check")
    p.add_argument("--import-only", action="store_true", help="only the migration import figures")
    p.add_argument(
        "--stream-commit", action="store_true", help="the memory check commits too (slow at 1,000,000 rows)"
    )
    p.add_argument("--stream-child", type=int, default=0, help=argparse_suppress())
    args = p.parse_args()
    if args.stream_child:
        stream_child(args.stream_child, args.stream_commit)
        return
    if args.small:
        args.members, args.import_rows, args.baseline_rows, args.repeat = 20_000, 2_000, 1_000, 60
        if args.full_rows == 100_000:
            args.full_rows = 5_000
        if args.stream_rows == 1_000_000:
            args.stream_rows = 20_000
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from clinic.models import Branch
    from members.models import AcquisitionChannel

    settings.MEDIA_ROOT = Path(tempfile.gettempdir()) / "clinic-bench-media"
    branches = [
        Branch.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in [("BJA", "基准·静安店"), ("BPD", "基准·浦东店")]
    ]
    channels = list(AcquisitionChannel.objects.filter(code__in=CHANNEL_CODES).values_list("id", flat=True))
    user = get_user_model().objects.filter(username="bench_admin").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench_admin", password=None)

    if args.import_only:
        full, floor = measure_full_import(user, branches[0], args.full_rows)
        peak = measure_stream(args.stream_rows, args.stream_commit)
        print(
            f"import_full_rows_per_s={full:.0f} import_floor_rows_per_s={floor:.0f} import_1m_peak_rss_mb={peak:.0f}"
        )
        return
    have = existing(connection)
    gen_s = 0.0
    if have != args.members or args.regenerate:
        print(f"have {have} generated people, want {args.members}: generating")
        gen_s = generate(args.members, [b.pk for b in branches], channels)
    else:
        gen_s = recorded_gen_s(connection, args.members)
        print(f"reusing {have} generated people (generated in {gen_s:.1f}s)")
    results = measure_search(user, args.repeat)
    queries = profile_queries(user)
    ours, baseline = measure_import(
        user, branches[0], args.import_rows, min(args.baseline_rows, args.import_rows)
    )
    full, floor = measure_full_import(user, branches[0], args.full_rows)
    peak = measure_stream(args.stream_rows, args.stream_commit)
    bench_line(
        "members",
        members=args.members,
        gen_s=gen_s,
        search_p95_ms_max=max(r["p95"] for r in results.values()),
        search_floor_ratio_max=max(r["ratio"] for r in results.values()),
        profile_queries=queries,
        import_rows_per_s=ours,
        baseline_import_rows_per_s=baseline,
        import_full_rows_per_s=full,
        import_floor_rows_per_s=floor,
        import_1m_peak_rss_mb=peak,
    )


if __name__ == "__main__":
    main()
