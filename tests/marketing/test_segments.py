"""Saved segments (issue 16): every filter compiles into one SQL statement; the quadrants use
the branch medians unless HQ set thresholds; RFM quintiles per branch; scoped to the viewer's
branches; the editor's live count, the masked and audited export."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditLog
from loyalty.models import PointsAccount, Purchase
from marketing import segments
from marketing.errors import MarketingError
from marketing.segment_models import QuadrantThreshold, Segment
from marketing.segment_selectors import (
    Scope,
    segment_count,
    segment_members,
    segment_quadrant_counts,
    segment_scope,
    segment_sql,
)
from members import services as member_services
from members.models import ConsentKind, Tag
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db

_seq = iter(range(1, 10**6))


def buy(member, amount, *, visits=1, days_ago=10):
    when = timezone.now() - dt.timedelta(days=days_ago)
    Purchase.objects.create(
        member=member,
        branch=member.branch,
        source_key=f"test:{next(_seq)}",
        amount=Decimal(amount),
        visits=visits,
        occurred_at=when,
    )
    type(member).objects.filter(pk=member.pk).update(last_visit_at=when)


EVERY = Scope(None)


def ids(filters, scope=EVERY):
    return set(segment_members(filters, scope=scope).values_list("pk", flat=True))


def test_plain_filters_and_scope(branch, other_branch, front_desk):
    vip = Tag.objects.create(name="VIP")
    a = make_member(branch, name="甲", gender="F", birth_date=dt.date(1990, 3, 5), stage="member")
    b = make_member(branch, name="乙", gender="M", birth_date=dt.date(2015, 7, 1))
    c = make_member(other_branch, name="丙", gender="F", birth_date=dt.date(1985, 3, 20))
    a.tags.add(vip)
    member_services.consent_grant(actor=front_desk, member=c, kind=ConsentKind.MARKETING_SMS, channel="paper")
    assert ids({"genders": ["F"]}) == {a.pk, c.pk}
    assert ids({"birth_months": [3]}) == {a.pk, c.pk}
    assert ids({"age_max": 17}) == {b.pk}
    assert ids({"age_min": 18, "stages": ["member"]}) == {a.pk}
    assert ids({"tags": [vip.pk]}) == {a.pk}
    assert ids({"consents": ["sms"]}) == {c.pk}
    assert ids({"branches": [other_branch.pk]}) == {c.pk}
    # The front desk of 静安 sees only 静安's people, whatever the filters say.
    scope = segment_scope(front_desk)
    assert ids({"genders": ["F"]}, scope) == {a.pk}
    assert ids({"branches": [other_branch.pk]}, scope) == set()
    assert segment_scope(front_desk, other_branch).empty
    # Merged or restricted records are never in a segment.
    member_services.member_opt_out_set(actor=front_desk, member=c, opt_out=True)
    assert ids({"consents": ["sms"]}) == set()


def test_quadrants_use_branch_medians_unless_hq_sets_thresholds(branch):
    people = [make_member(branch, name=f"人{i}") for i in range(5)]
    # visits 1..4 and spend 100..400 (crossed), one person without visits.
    for person, (visits, spend) in zip(people, [(1, 400), (2, 100), (3, 300), (4, 200)], strict=False):
        buy(person, spend, visits=visits)
    # Medians over the four with visits: visits 2.5, spend 250.
    counts = segment_quadrant_counts({}, scope=Scope(None))
    assert counts == {"hh": 1, "hl": 1, "lh": 1, "ll": 2}
    assert ids({"quadrants": ["hh"]}) == {people[2].pk}
    assert ids({"quadrants": ["lh"]}) == {people[0].pk}
    QuadrantThreshold.objects.create(branch=branch, min_visits=1, min_spend=Decimal("150"))
    assert ids({"quadrants": ["hh"]}) == {people[0].pk, people[2].pk, people[3].pk}
    assert ids({"quadrants": ["ll"]}) == {people[4].pk}


def test_rfm_scores_and_twelve_month_figures(branch):
    people = [make_member(branch, name=f"客{i}") for i in range(5)]
    for i, person in enumerate(people):
        buy(person, 100 * (i + 1), visits=i + 1, days_ago=100 - 10 * i)
    old = make_member(branch, name="老客")
    buy(old, 9999, days_ago=400)  # outside the 12 months: no visits, no spend
    assert ids({"m_min": 5}) == {people[4].pk}
    assert ids({"f_max": 1}) == {people[0].pk, old.pk}
    assert ids({"r_min": 5}) == {people[4].pk}
    assert ids({"spend_min": "250", "visits_max": 4}) == {people[2].pk, people[3].pk}
    assert ids({"visits_min": 1}) == {p.pk for p in people}


def test_points_recall_and_every_filter_together_is_one_statement(branch, django_assert_num_queries):
    rich = make_member(branch, name="多分")
    PointsAccount.objects.create(member=rich, balance=800)
    make_member(branch, name="无分")
    assert ids({"points_min": 500}) == {rich.pk}
    everything = {
        "stages": ["patient"], "tiers": [1], "tags": [1], "channels": [1], "branches": [branch.pk],
        "genders": ["F"], "age_min": 1, "age_max": 90, "birth_months": [1, 2], "first_visit_from": "2020-01-01",
        "first_visit_to": "2030-01-01", "last_visit_from": "2020-01-01", "last_visit_to": "2030-01-01",
        "visits_min": 0, "visits_max": 9, "spend_min": "0", "spend_max": "99999", "points_min": 0,
        "points_max": 9999, "expiring_points_min": 1, "expiring_days": 30, "services": [1], "consultants": [1],
        "partners": [1], "recall_due_days": 30, "consents": ["sms", "wechat", "email"],
        "quadrants": ["hh"], "r_min": 1, "r_max": 5, "f_min": 1, "f_max": 5, "m_min": 1, "m_max": 5,
    }  # fmt: skip
    assert set(everything) == segments.FILTER_KEYS
    with django_assert_num_queries(1):
        assert segment_count(everything, scope=Scope(frozenset({branch.pk}))) == 0
    sql, _params = segment_sql(everything, scope=Scope(None))
    assert sql.count("SELECT") >= 1 and "for" not in sql.lower().split("select")[0]


def test_segment_services_check_branch_and_names(branch, other_branch, marketer, hq_admin):
    with pytest.raises(MarketingError):
        segments.segment_create(actor=marketer, name="  ", branch=branch, filters={})
    with pytest.raises(MarketingError):
        segments.segment_create(actor=marketer, name="外店", branch=other_branch, filters={})
    with pytest.raises(MarketingError):
        segments.segment_create(actor=marketer, name="全部", branch=None, filters={})
    with pytest.raises(MarketingError):
        segments.segment_create(actor=marketer, name="坏", branch=branch, filters={"nope": 1})
    s = segments.segment_create(actor=marketer, name="女性", branch=branch, filters={"genders": ["F"]})
    assert segments.segment_create(actor=hq_admin, name="全部", branch=None, filters={}).branch is None
    segments.segment_update(actor=marketer, segment=s, name="女性客户", branch=branch, filters={})
    assert AuditLog.objects.filter(action="marketing.segment.changed", target_id=str(s.pk)).exists()


def test_editor_live_count_save_and_scoping(branch, other_branch, marketer, front_desk, client_for):
    make_member(branch, name="甲", gender="F")
    make_member(branch, name="乙", gender="M")
    make_member(other_branch, name="丙", gender="F")
    client = client_for(marketer)
    assert client.get(reverse("marketing:segment_create")).status_code == 200
    preview = client.post(reverse("marketing:segment_preview"), {"branch": branch.pk, "genders": ["F"]})
    html = preview.content.decode()
    assert preview.status_code == 200 and 'data-testid="segment-count">1<' in html and "甲" in html
    r = client.post(
        reverse("marketing:segment_create"), {"name": "女性", "branch": branch.pk, "genders": ["F"]}
    )
    seg = Segment.objects.get(name="女性")
    assert r.status_code == 302 and seg.filters == {"genders": ["F"]}
    page = client.get(reverse("marketing:segment_edit", args=[seg.pk])).content.decode()
    assert 'data-testid="segment-count">1<' in page
    bad = client.post(
        reverse("marketing:segment_edit", args=[seg.pk]),
        {"name": "女性", "branch": branch.pk, "age_min": 50, "age_max": 20},
    )
    assert bad.status_code == 200 and "invalid-feedback" in bad.content.decode()
    assert client_for(front_desk).get(reverse("marketing:segment_list")).status_code == 403
    hers = segments.segment_create(actor=marketer, name="本店", branch=branch, filters={})
    from tests.conftest import make_staff

    other_marketer = make_staff("marketing", [other_branch], username="mk2")
    assert (
        client_for(other_marketer).get(reverse("marketing:segment_edit", args=[hers.pk])).status_code == 404
    )


def test_export_is_masked_and_audited(branch, marketer, client_for):
    make_member(branch, name="甲", phone="13812345678", email="jia@example.com")
    seg = segments.segment_create(actor=marketer, name="[demo] 全部/人", branch=branch, filters={})
    client = client_for(marketer)
    r = client.get(reverse("marketing:segment_export", args=[seg.pk, "csv"]))
    text = r.content.decode("utf-8-sig")
    assert r.status_code == 200 and "138****5678" in text and "13812345678" not in text
    assert "j***@example.com" in text and "jia@example.com" not in text
    r = client.get(reverse("marketing:segment_export", args=[seg.pk, "xlsx"]))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    audit = AuditLog.objects.filter(action="marketing.segment.exported").order_by("id")
    assert [a.changes["format"] for a in audit] == ["csv", "xlsx"] and audit[0].changes["rows"] == 1
    assert client.get(reverse("marketing:segment_export", args=[seg.pk, "pdf"])).status_code == 302


def test_quadrants_as_of_a_past_moment_and_the_moves_since(branch, time_machine):
    """The figures as they stood at the first of the month: purchases after it do not count,
    one reversed after it still does, people registered after it are not there yet."""
    from reports.customers import quadrant_movements

    time_machine.move_to(dt.datetime(2026, 12, 20, 10, 0, tzinfo=dt.UTC))
    climber, faller, steady = (make_member(branch, name=n) for n in ("升", "降", "稳"))
    type(climber).objects.filter(pk__in=[climber.pk, faller.pk, steady.pk]).update(
        created_at=timezone.now() - dt.timedelta(days=90)
    )
    for person, visits, spend, days_ago in (
        (climber, 1, 100, 60),
        (faller, 4, 400, 60),
        (steady, 2, 250, 60),
    ):
        buy(person, spend, visits=visits, days_ago=days_ago)
    buy(climber, 900, visits=5, days_ago=3)  # after the 1st: a high spender now
    refund = Purchase.objects.filter(member=faller).get()
    Purchase.objects.filter(pk=refund.pk).update(reversed_at=timezone.now() - dt.timedelta(days=2))
    QuadrantThreshold.objects.create(branch=branch, min_visits=2, min_spend=Decimal("200"))
    as_of = dt.datetime(2026, 12, 1, tzinfo=timezone.get_current_timezone())
    then_sql, then_params = segment_sql({}, scope=Scope(None), with_quadrant=True, as_of=as_of)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(then_sql, then_params)
        then = dict(cursor.fetchall())
    assert then == {climber.pk: "ll", faller.pk: "hh", steady.pk: "hh"}
    newcomer = make_member(branch, name="新")
    buy(newcomer, 300, visits=2, days_ago=1)
    moves = quadrant_movements(branch, today=dt.date(2026, 12, 20))
    table = {r["code"]: r["cells"] for r in moves["rows"]}
    # Columns hh, hl, lh, ll (the Quadrant choices' order).
    assert table["ll"] == [1, 0, 0, 0]  # the climber: ll → hh
    assert table["hh"] == [1, 0, 0, 1]  # steady stays, the faller's refund drops them to ll
    assert table["new"] == [1, 0, 0, 0]
    assert moves["moved"] == 2
