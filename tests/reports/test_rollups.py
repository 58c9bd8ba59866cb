"""Every rollup figure equals the same figure computed from the base tables (issue 17), here
recomputed in Python from the ORM rows, independently of the rollup SQL."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone

from appointments.models import Appointment, Visit
from followups.models import Task
from followups.recall_models import Recall, RecallKeep, RecallType, SurveyInvitation, SurveyResponse
from loyalty.coupon_models import Coupon, CouponTemplate
from loyalty.models import Membership
from members.models import Member
from reports import kpis, rollups
from reports.rollup_models import DailyRollup
from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceItemFactory
from tests.loyalty.factories import enrolled
from tests.members.factories import make_member

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 12, 7)
DAYS = [TODAY - dt.timedelta(days=n) for n in range(1, 12)]


def local(day, hour):
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=TZ)


def _expected():
    """{(branch, day, metric, key): value} from the ORM rows."""
    out = defaultdict(Decimal)

    def add(branch_id, day, metric, value=1, key=""):
        if day < TODAY:
            out[(branch_id, day, metric, key)] += Decimal(value)

    for v in Visit.objects.filter(status="checked_out"):
        day = timezone.localtime(v.checked_out_at).date()
        add(v.branch_id, day, "visits")
        add(v.branch_id, day, "revenue", v.amount_paid)
    for a in Appointment.objects.all():
        day = timezone.localtime(a.start).date()
        for key in ("", a.channel):
            if a.status != "cancelled":
                add(a.branch_id, day, "bookings", key=key)
            if a.status in ("arrived", "in_treatment", "completed"):
                add(a.branch_id, day, "showed", key=key)
            if a.status == "no_show":
                add(a.branch_id, day, "no_shows", key=key)
            if a.status in ("arrived", "in_treatment", "completed", "no_show"):
                add(a.branch_id, day, "appointments_over", key=key)
    for m in Member.objects.exclude(status="merged"):
        add(m.branch_id, timezone.localtime(m.created_at).date(), "new_people")
    for ms in Membership.objects.all():
        add(ms.branch_id, timezone.localtime(ms.enrolled_at).date(), "enrolments")
    for r in SurveyResponse.objects.all():
        add(r.branch_id, r.visit_on, "survey_answers")
        if (r.doctor_score + r.front_desk_score + r.environment_score + r.waiting_score) / 4 >= 4:
            add(r.branch_id, r.visit_on, "survey_satisfied")
    for t in Task.objects.filter(kind="followup").exclude(status="cancelled"):
        add(t.branch_id, t.due_on, "followups_due")
        if t.status == "done" and timezone.localtime(t.closed_at).date() <= t.due_on:
            add(t.branch_id, t.due_on, "followups_on_time")
    for k in RecallKeep.objects.filter(voided_at=None).select_related("recall"):
        add(k.recall.branch_id, k.kept_on, "recall_kept")
        if k.on_time:
            add(k.recall.branch_id, k.kept_on, "recall_on_time")
    for c in Coupon.objects.select_related("member", "batch"):
        branch_id = c.batch.branch_id if c.batch else (c.member.branch_id if c.member else None)
        if branch_id is None:
            continue
        add(branch_id, timezone.localtime(c.issued_at).date(), "coupons_issued")
        if c.used_at and not c.voided_at:
            add(branch_id, timezone.localtime(c.used_at).date(), "coupons_used")
    return {k: v for k, v in out.items() if v}


def _rolled():
    return {
        (r.branch_id, r.day, r.metric, r.key): r.value
        for r in DailyRollup.objects.all()
        if r.value  # zero rows are not written, but be lenient
    }


@pytest.fixture
def world(branch, other_branch, front_desk):
    item = ServiceItemFactory(code="RP01", name="洁牙", price="300.00")
    template = CouponTemplate.objects.create(name="满减券", kind="amount", amount_off=Decimal("50"))
    rtype = RecallType.objects.create(code="rp_clean", name="洁牙复查", interval_months=6)
    objs = []
    for b_index, br in enumerate((branch, other_branch)):
        doctor = make_doctor(br, f"rp_doc{b_index}")
        for i, day in enumerate([*DAYS, TODAY]):
            m = make_member(br, name=f"报表{b_index}{i}")
            Member.objects.filter(pk=m.pk).update(created_at=local(day, 9))
            status = ["completed", "no_show", "cancelled", "booked", "arrived"][i % 5]
            appt = Appointment.objects.create(
                branch=br,
                member=m,
                service=item,
                doctor=doctor,
                start=local(day, 10),
                end=local(day, 11),
                channel=["phone", "wechat"][i % 2],
                status=status,
            )
            visit = Visit.objects.create(
                branch=br,
                member=m,
                doctor=doctor,
                appointment=appt if status == "completed" else None,
                opened_at=local(day, 10),
                status=["checked_out", "checked_out", "voided", "open"][i % 4],
                amount_due=Decimal(100 + i),
                amount_paid=Decimal(100 + i) if i % 4 != 3 else 0,
                checked_out_at=local(day, 23) if i % 4 != 3 else None,  # 23:00 local = 15:00 UTC
            )
            if i % 3 == 0:
                inv = SurveyInvitation.objects.create(
                    visit=visit,
                    member=m,
                    branch=br,
                    doctor=doctor,
                    nonce=f"n{b_index}{i}",
                    send_at=local(day, 12),
                )
                SurveyResponse.objects.create(
                    invitation=inv,
                    member=m,
                    branch=br,
                    doctor=doctor,
                    visit_on=day,
                    doctor_score=5,
                    front_desk_score=4 if i % 2 else 3,
                    environment_score=4,
                    waiting_score=4 if i % 2 else 2,
                    nps=9,
                )
            Task.objects.create(
                kind="followup",
                member=m,
                branch=br,
                title="术后回访",
                due_on=day,
                status=["open", "done", "done", "cancelled"][i % 4],
                closed_at=local(day + dt.timedelta(days=i % 3 - 1), 15) if i % 4 in (1, 2) else None,
                source_key=f"rp:{b_index}:{i}",
            )
            recall = Recall.objects.create(member=m, recall_type=rtype, branch=br, due_on=day)
            RecallKeep.objects.create(
                recall=recall, member=m, due_on=day, visit=visit, kept_on=day, on_time=bool(i % 2)
            )
            Coupon.objects.create(
                code=f"RP{b_index}{i:03d}",
                template=template,
                member=m,
                issued_at=local(day, 9),
                used_at=local(day, 18) if i % 2 else None,
            )
            objs.append(m)
        enrolled(br, name=f"会员{b_index}")
        Membership.objects.filter(branch=br).update(enrolled_at=local(DAYS[2], 14))
    return objs


def test_every_rollup_figure_equals_the_base_tables(world):
    rollups.rollup_refresh(full=True, today=TODAY)
    expected = _expected()
    assert {m for *_x, m, _k in expected} >= set(kpis.METRICS), "the world covers every metric"
    assert _rolled() == expected


def test_incremental_refresh_follows_a_void(world, settings):
    settings.REPORTS_ROLLUP_TRAILING_DAYS = 0
    rollups.rollup_refresh(full=True, today=TODAY)
    visit = Visit.objects.filter(status="checked_out").order_by("checked_out_at").first()
    Visit.objects.filter(pk=visit.pk).update(status="voided", voided_at=timezone.now())
    rollups.rollup_refresh(today=TODAY)
    assert _rolled() == _expected()


def test_figures_add_today_live_and_kpis_read_no_data(world, branch):
    rollups.rollup_refresh(full=True, today=TODAY)
    sums = rollups.figures(DAYS[-1], TODAY + dt.timedelta(days=1), branch_ids=[branch.pk], today=TODAY)[
        branch.pk
    ]
    base = rollups.live("visits", DAYS[-1], TODAY + dt.timedelta(days=1), branch_ids=[branch.pk])
    assert sums["visits"] == sum(base.values())
    assert rollups.kpi_value(kpis.KPIS["complaint_sla"], sums) is None
    assert rollups.kpi_value(kpis.KPIS["campaign_conversion"], sums) is None
    rate = rollups.kpi_value(kpis.KPIS["no_show_rate"], sums)
    assert rate == (sums["no_shows"] / sums["appointments_over"]).quantize(Decimal("0.0001"))


def test_return_rate_counts_a_second_visit_within_n_months(world, branch):
    first = Visit.objects.filter(
        branch=branch, status="checked_out", checked_out_at__lt=local(TODAY, 0)
    ).first()
    m, doctor = first.member, first.doctor
    Visit.objects.create(
        branch=branch,
        member=m,
        doctor=doctor,
        opened_at=local(TODAY, 9),
        status="checked_out",
        amount_paid=Decimal(1),
        checked_out_at=local(TODAY, 9),
    )
    out = rollups.return_rate(DAYS[-1], TODAY, branch_ids=[branch.pk], months=6)
    returned, people = out[branch.pk]
    assert (
        people
        == Visit.objects.filter(branch=branch, status="checked_out", checked_out_at__lt=local(TODAY, 0))
        .values("member")
        .distinct()
        .count()
    )
    assert returned == 1


def test_return_rate_is_shared_between_viewers_for_the_cache_time(world, branch, settings):
    """Shared in the database for the cache time: a second viewer reads one small row, not a
    year of visits; after the time it is computed again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports.rollup_models import SharedFigure

    settings.REPORTS_LIVE_CACHE_SECONDS = 600
    lo = timezone.localdate().replace(day=1)
    hi = timezone.localdate() + dt.timedelta(days=1)
    first = rollups.return_rate(lo, hi, branch_ids=[branch.pk])
    with CaptureQueriesContext(connection) as queries:
        again = rollups.return_rate(lo, hi, branch_ids=[branch.pk])
    assert again == first and len(queries) == 1 and "OVER (PARTITION BY" not in queries[0]["sql"]
    SharedFigure.objects.update(valid_until=timezone.now() - dt.timedelta(seconds=1))
    with CaptureQueriesContext(connection) as queries:
        assert rollups.return_rate(lo, hi, branch_ids=[branch.pk]) == first
    assert any("OVER (PARTITION BY" in q["sql"] for q in queries.captured_queries)


def test_one_pass_over_the_rollups_gives_each_period_and_today_the_same_figures(world, branch, other_branch):
    """``prefetch`` (one FILTER per period) and the one-query live today equal each figure
    asked for on its own: the rolled-up part of every metric and today's live part."""
    rollups.rollup_refresh(full=True, today=TODAY)
    tomorrow = TODAY + dt.timedelta(days=1)
    ranges = [(DAYS[-1], tomorrow), (DAYS[5], DAYS[1]), (DAYS[3], TODAY), (TODAY, tomorrow)]
    ids = [branch.pk, other_branch.pk]
    alone = [rollups.figures(lo, hi, branch_ids=ids, today=TODAY) for lo, hi in ranges]
    with rollups.memoized():
        rollups.prefetch(ranges, branch_ids=ids, today=TODAY)
        together = [rollups.figures(lo, hi, branch_ids=ids, today=TODAY) for lo, hi in ranges]
    assert [{b: dict(m) for b, m in f.items()} for f in together] == [
        {b: dict(m) for b, m in f.items()} for f in alone
    ]
    for code in kpis.METRICS:
        assert rollups.live_totals(TODAY, tomorrow, branch_ids=ids)[code] == rollups.live(
            code, TODAY, tomorrow, branch_ids=ids
        ), code
    sla_alone = [rollups.complaint_sla(lo, hi, branch_ids=ids) for lo, hi in ranges]
    with rollups.memoized():
        rollups.prefetch_live(ranges, branch_ids=ids)
        assert [rollups.complaint_sla(lo, hi, branch_ids=ids) for lo, hi in ranges] == sla_alone


def test_the_rollup_job_warms_the_dashboards_shared_figures(world, branch, settings):
    """After the job, a dashboard reads neither 复诊率 nor points liability from the base
    tables: no manager waits for the year of visits."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports import dashboard
    from reports.rollup_models import SharedFigure
    from reports.rollup_tasks import rollup_refresh

    settings.REPORTS_LIVE_CACHE_SECONDS = 600
    SharedFigure.objects.create(
        key="old", value=[], computed_at=timezone.now(), valid_until=timezone.now() - dt.timedelta(days=2)
    )
    rollup_refresh.apply()
    assert not SharedFigure.objects.filter(key="old").exists(), "long-expired figures are purged"
    with CaptureQueriesContext(connection) as queries:
        board = dashboard.branch_dashboard(branch)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "OVER (PARTITION BY" not in sql and "loyalty_pointsaccount" not in sql
    fresh = rollups._return_rate(*dashboard.periods(timezone.localdate())["mtd"], None, 6)
    rate = next(f for f in board["month"] if f.code == "return_rate").value
    returned, people = fresh.get(branch.pk, (0, 0))
    assert rate == (None if not people else (Decimal(returned) / Decimal(people)).quantize(Decimal("0.0001")))
