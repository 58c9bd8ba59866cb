"""The work list and the task page: tabs, filters, who sees what (customer service and
managers the branch, doctors their own patients, other branches nothing), working a task
through the pages, bulk reassign, query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import Role
from followups.models import Task
from followups.services import task_create
from tests.appointments.factories import MONDAY
from tests.conftest import login, make_staff
from tests.members.factories import make_member

from .helpers import complete_visit

pytestmark = pytest.mark.django_db

URL = "followups:worklist"


@pytest.fixture
def cs(branch):
    return make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_a")


@pytest.fixture
def tasks(branch, cs, clock):
    people = [make_member(branch, name=n) for n in ("甲今天", "乙逾期", "丙明天", "丁未分配")]

    def mk(person, due, key, **kw):
        return task_create(
            actor=None,
            member=person,
            kind=kw.pop("kind", "followup"),
            title=key,
            due_on=due,
            source_key=key,
            **kw,
        )[0]

    return {
        "today": mk(people[0], MONDAY, "今天的回访", assignee=cs),
        "overdue": mk(people[1], MONDAY - dt.timedelta(days=2), "逾期的回访", assignee=cs, channel="wechat"),
        "later": mk(people[2], MONDAY + dt.timedelta(days=1), "明天的召回", assignee=cs, kind="recall"),
        "unassigned": mk(people[3], MONDAY, "没人管的", assignee=None),
    }


def _titles(response) -> set[str]:
    return {t.title for t in response.context["page"].rows}


def test_the_tabs_show_today_overdue_mine_and_the_team(tasks, cs):
    client = login(cs)
    assert _titles(client.get(reverse(URL))) == {"今天的回访", "没人管的"}  # default: due today
    assert _titles(client.get(reverse(URL), {"tab": "overdue"})) == {"逾期的回访"}
    assert _titles(client.get(reverse(URL), {"tab": "mine"})) == {"今天的回访", "逾期的回访", "明天的召回"}
    team = client.get(reverse(URL), {"tab": "team"})
    assert [t.title for t in team.context["page"].rows] == [
        "逾期的回访",
        "今天的回访",
        "没人管的",
        "明天的召回",
    ]
    assert team.context["counts"] == {
        "today": "2",
        "overdue": "1",
        "mine": "3",
        "team": "4",
        "escalated": "0",
    }
    assert "逾期的回访" in team.content.decode()


def test_filters_kind_channel_assignee_and_due_range(tasks, cs):
    client = login(cs)
    get = lambda **q: _titles(client.get(reverse(URL), {"tab": "team", **q}))  # noqa: E731
    assert get(kind="recall") == {"明天的召回"}
    assert get(channel="wechat") == {"逾期的回访"}
    assert get(assignee="none") == {"没人管的"}
    assert get(assignee=str(cs.pk)) == {"今天的回访", "逾期的回访", "明天的召回"}
    assert get(due_from="2026-12-07", due_to="2026-12-07") == {"今天的回访", "没人管的"}
    # Nonsense filters are ignored, never a 500.
    assert (
        client.get(
            reverse(URL), {"tab": "team", "kind": "x", "due_from": "2026-13-45", "page": "²"}
        ).status_code
        == 200
    )


def test_a_doctor_sees_only_their_own_patients_tasks_read_only(
    branch, front_desk, doc, cs, clock, django_capture_on_commit_callbacks, extraction, extraction_plan
):
    mine = make_member(branch, name="医生的病人")
    complete_visit(front_desk, branch, mine, [extraction], doc, capture=django_capture_on_commit_callbacks)
    other = task_create(
        actor=None,
        member=make_member(branch, name="别人的病人"),
        kind="followup",
        title="别人的",
        due_on=MONDAY + dt.timedelta(days=1),
        source_key="o",
    )[0]
    client = login(doc)
    page = client.get(reverse(URL))
    assert page.status_code == 200 and page.context["tab"] == "team"
    assert {t.member.name for t in page.context["page"].rows} == {"医生的病人"}
    own = Task.objects.get(member=mine)
    detail = client.get(reverse("followups:task", args=[own.pk]))
    assert detail.status_code == 200 and b'data-testid="attempt-form"' not in detail.content
    assert client.get(reverse("followups:task", args=[other.pk])).status_code == 404
    assert (
        client.post(reverse("followups:task_attempt", args=[own.pk]), {"outcome": "reached"}).status_code
        == 403
    )


def test_staff_of_another_branch_get_404_and_roles_without_the_permission_403(
    tasks, other_branch, front_desk
):
    outsider = make_staff(Role.CUSTOMER_SERVICE, [other_branch], username="cs_there")
    task = tasks["today"]
    assert login(outsider).get(reverse("followups:task", args=[task.pk])).status_code == 404
    assert _titles(login(outsider).get(reverse(URL), {"tab": "team"})) == set()
    assert login(front_desk).get(reverse(URL)).status_code == 403


def test_working_a_task_through_the_page_and_the_next_one_sees_every_attempt(tasks, cs, branch, clock):
    task = tasks["today"]
    client = login(cs)
    page = client.get(reverse("followups:task", args=[task.pk]))
    assert page.status_code == 200 and "今天的回访的话术" not in page.content.decode()
    r = client.post(
        reverse("followups:task_attempt", args=[task.pk]),
        {"outcome": "not_reached", "notes": "关机", "log_contact": "on", "next_step": "none"},
    )
    assert r.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.due_on, task.attempts_count) == ("open", MONDAY + dt.timedelta(days=1), 1)
    # A colleague picks it up the next day and sees the first attempt.
    clock.shift(dt.timedelta(days=1))
    colleague = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_b")
    html = login(colleague).get(reverse("followups:task", args=[task.pk])).content.decode()
    assert "关机" in html and "未接通" in html
    r = login(colleague).post(
        reverse("followups:task_attempt", args=[task.pk]),
        {"outcome": "reached", "satisfaction": "5", "notes": "很满意", "next_step": "book"},
    )
    assert r.status_code == 302 and r["Location"] == f"{reverse('appointments:book')}?member={task.member_id}"
    task.refresh_from_db()
    assert (task.status, task.satisfaction) == ("done", 5)


def test_a_bad_attempt_form_is_shown_again_with_the_error(tasks, cs):
    task = tasks["today"]
    r = login(cs).post(
        reverse("followups:task_attempt", args=[task.pk]),
        {"outcome": "not_reached", "satisfaction": "3", "next_step": "none"},
    )
    assert r.status_code == 400 and r.context["attempt_form"].errors["satisfaction"]
    assert Task.objects.get(pk=task.pk).attempts_count == 0


def test_a_manager_bulk_reassigns_and_customer_service_may_not(tasks, cs, manager, branch):
    other = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_b")
    ids = [tasks["today"].pk, tasks["unassigned"].pk]
    assert (
        login(cs).post(reverse("followups:bulk_reassign"), {"tasks": ids, "assignee": other.pk}).status_code
        == 403
    )
    r = login(manager).post(
        reverse("followups:bulk_reassign"), {"tasks": ids, "assignee": other.pk, "back": "tab=team"}
    )
    assert r.status_code == 302 and r["Location"].endswith("?tab=team")
    assert set(Task.objects.filter(assignee=other).values_list("pk", flat=True)) == set(ids)
    page = login(manager).get(reverse(URL), {"tab": "team"})
    assert b'data-testid="bulk-reassign"' in page.content
    # Nothing chosen: nothing changes; "none" puts them back to unassigned.
    login(manager).post(reverse("followups:bulk_reassign"), {"tasks": ids, "assignee": ""})
    assert Task.objects.filter(assignee=other).count() == 2
    login(manager).post(reverse("followups:bulk_reassign"), {"tasks": ids, "assignee": "none"})
    assert Task.objects.filter(pk__in=ids, assignee__isnull=True).count() == 2


def test_sms_and_close_from_the_task_page(tasks, cs):
    task = tasks["today"]
    client = login(cs)
    assert (
        client.post(
            reverse("followups:task_sms", args=[task.pk]), {"template": "followups.call_back"}
        ).status_code
        == 302
    )
    assert (
        client.post(reverse("followups:task_close", args=[task.pk]), {"reason": "已到店"}).status_code == 302
    )
    task.refresh_from_db()
    assert task.status == "cancelled"


def test_the_work_list_query_count_does_not_grow_with_rows(tasks, cs, branch, django_assert_max_num_queries):
    for n in range(30):
        task_create(
            actor=None,
            member=make_member(branch),
            kind="followup",
            title=f"t{n}",
            due_on=MONDAY,
            source_key=f"n{n}",
            assignee=cs,
        )
    client = login(cs)
    client.get(reverse(URL))
    with django_assert_max_num_queries(20):
        r = client.get(reverse(URL), {"tab": "team"})
    assert len(r.context["page"].rows) == 34


def test_the_htmx_request_gets_the_rows_only(tasks, cs):
    r = login(cs).get(reverse(URL), {"tab": "team"}, HTTP_HX_REQUEST="true")
    assert b"<tbody" not in r.content and b'data-testid="task-row"' in r.content
