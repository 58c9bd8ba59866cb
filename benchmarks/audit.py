"""The audit log at scale: branch-scoped search as the admin does it, one record's history,
and the cost of writing an audit row through the service, each next to raw SQL.

    python -m benchmarks.audit --rows 1000000
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time

from benchmarks._common import bench_line, copy_rows, p95, parser, raw_sql, setup_django, summary, time_calls

ACTIONS = [
    "members.member.changed",
    "members.contact.revealed",
    "loyalty.points.redeemed",
    "loyalty.points.awarded",
    "appointments.booking.created",
    "appointments.visit.checked_out",
    "clinic.serviceitem.changed",
]


def generate(rows: int, branch_ids: list[int], user_ids: list[int], ct_id: int) -> float:
    from django.db import connection

    start = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(42)

    def rows_iter():
        for i in range(rows):
            at = now - dt.timedelta(seconds=rng.randrange(0, 365 * 86400))
            yield (
                at.isoformat(),
                rng.choice(user_ids),
                "基准测试员",
                rng.choice(ACTIONS),
                ct_id,
                str(rng.randrange(1, rows // 10 + 2)),
                f"对象 {i}",
                rng.choice(branch_ids),
                json.dumps({"field": ["old", "new"]}, ensure_ascii=False),
            )

    # The append-only trigger guards UPDATE/DELETE only; COPY inserts are allowed.
    copy_rows(
        "clinic_auditlog",
        [
            "at",
            "actor_id",
            "actor_name",
            "action",
            "target_type_id",
            "target_id",
            "target_repr",
            "branch_id",
            "changes",
        ],
        rows_iter(),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clinic_auditlog")
    return time.perf_counter() - start


def main() -> None:
    args_parser = parser("Audit log benchmark")
    args_parser.add_argument("--rows", type=int, default=1_000_000)
    args_parser.add_argument("--repeat", type=int, default=200)
    args = args_parser.parse_args()
    if args.small:
        args.rows, args.repeat = 50_000, 50
    setup_django()

    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    from clinic import services
    from clinic.models import AuditLog, Branch, Role, ServiceItem, StaffProfile
    from clinic.selectors import scope_to_branches

    branches = []
    for n in range(10):
        branch = Branch.objects.filter(code=f"BM{n}").first() or Branch(code=f"BM{n}", name=f"基准门店{n}")
        branches.append(services.record_save(actor=None, instance=branch))
    manager = StaffProfile.objects.filter(user__username="bench_manager").first()
    if manager is None:
        manager = services.staff_create(
            actor=None,
            username="bench_manager",
            password=None,
            full_name="基准店长",
            role=Role.BRANCH_MANAGER,
            branches=[branches[0]],
        )
    user = manager.user
    ct = ContentType.objects.get_for_model(ServiceItem)

    existing = AuditLog.objects.filter(actor_name="基准测试员").count()
    gen_s = 0.0
    if existing < args.rows:
        gen_s = generate(args.rows - existing, [b.pk for b in branches], [user.pk], ct.pk)
    total = AuditLog.objects.count()
    print(f"audit rows: {total} (generated {args.rows - existing} in {gen_s:.1f}s)")

    # 1. The admin changelist for a branch manager: newest 100 of their branch.
    def orm_scoped():
        qs = scope_to_branches(AuditLog.objects.select_related("branch", "target_type"), user)
        return list(qs.order_by("-at", "-id")[:100])

    floor_scoped = raw_sql(
        "SELECT a.*, b.*, c.* FROM clinic_auditlog a LEFT JOIN clinic_branch b ON b.id = a.branch_id "
        "LEFT JOIN django_content_type c ON c.id = a.target_type_id WHERE a.branch_id IN (%s) "
        "ORDER BY a.at DESC, a.id DESC LIMIT 100",
        [branches[0].pk],
    )
    orm_s = time_calls(orm_scoped, args.repeat)
    raw_s = time_calls(floor_scoped, args.repeat)
    print(f"scoped newest-100   orm {summary(orm_s)}   raw {summary(raw_s)}")

    # 2. One record's history (the "history" link on a profile).
    target_id = "7"

    def orm_history():
        return list(AuditLog.objects.filter(target_type=ct, target_id=target_id).order_by("-at")[:50])

    floor_history = raw_sql(
        "SELECT * FROM clinic_auditlog WHERE target_type_id = %s AND target_id = %s ORDER BY at DESC LIMIT 50",
        [ct.pk, target_id],
    )
    orm_h = time_calls(orm_history, args.repeat)
    raw_h = time_calls(floor_history, args.repeat)
    print(f"target history      orm {summary(orm_h)}   raw {summary(raw_h)}")

    # 3. Writing: audit_record inside a transaction vs a bare INSERT.
    writes = max(200, args.repeat * 5)
    start = time.perf_counter()
    for i in range(writes):
        with transaction.atomic():
            services.audit_record(actor=user, action="bench.write", changes={"i": i}, branch=branches[0])
    service_per_s = writes / (time.perf_counter() - start)
    insert = raw_sql(
        "INSERT INTO clinic_auditlog (at, actor_id, actor_name, action, target_id, target_repr, branch_id, changes) "
        "VALUES (now(), %s, 'x', 'bench.raw', '', '', %s, '{}'::jsonb) RETURNING id",
        [user.pk, branches[0].pk],
    )
    start = time.perf_counter()
    for _ in range(writes):
        with transaction.atomic():
            insert()
    raw_per_s = writes / (time.perf_counter() - start)
    print(f"audit writes        service {service_per_s:.0f}/s   raw INSERT {raw_per_s:.0f}/s")

    bench_line(
        "audit",
        rows=total,
        gen_s=gen_s,
        scoped_p95_ms=p95(orm_s),
        scoped_floor_ratio=p95(orm_s) / max(p95(raw_s), 1e-6),
        history_p95_ms=p95(orm_h),
        history_floor_ratio=p95(orm_h) / max(p95(raw_h), 1e-6),
        writes_per_s=round(service_per_s),
        raw_writes_per_s=round(raw_per_s),
    )


if __name__ == "__main__":
    main()
