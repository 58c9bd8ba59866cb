"""Follow-up plans: a completed visit makes its tasks (once), a voided one cancels them,
assignment (dedicated rep, fair pool, doctor), repeating steps, care instructions,
escalation and the sweep."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments import checkout
from appointments.signals import visit_completed
from clinic.models import AuditLog, Role
from clinic.notifications.models import Outbox
from clinic.notifications.services import optout_set
from followups import plan_receivers, plans
from followups.models import AttemptOutcome, Task, TaskStatus
from followups.plan_models import FollowupStep, ServiceRep
from followups.services import task_create
from followups.task_services import task_attempt_record
from tests.appointments.factories import MONDAY
from tests.conftest import make_staff
from tests.members.factories import make_member

from .helpers import complete_visit, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def cs(branch):
    return make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_a")


@pytest.fixture
def person(branch):
    return make_member(branch, name="王芳", phone="13900002222")


def test_an_implant_visit_makes_its_four_steps_once_with_the_plan_keys(
    front_desk, branch, person, doc, implant, implant_plan, cs, clock, django_capture_on_commit_callbacks
):
    visit = complete_visit(
        front_desk, branch, person, [implant], doc, capture=django_capture_on_commit_callbacks
    )
    tasks = list(Task.objects.filter(visit=visit).order_by("due_on"))
    assert [(t.title, t.due_on) for t in tasks] == [
        ("D+1", MONDAY + dt.timedelta(days=1)),
        ("D+7", MONDAY + dt.timedelta(days=7)),
        ("D+30", MONDAY + dt.timedelta(days=30)),
        ("M+6", dt.date(2027, 6, 7)),
    ]
    steps = {s.title: s for s in FollowupStep.objects.filter(plan=implant_plan)}
    assert tasks[0].source_key == f"visit:{visit.pk}:rule:{implant_plan.pk}:step:{steps['D+1'].pk}"
    assert {t.assignee for t in tasks} == {cs}
    assert [(t.kind, t.channel, t.script, t.status) for t in tasks] == [
        ("followup", "phone", f"{t.title}的话术", "open") for t in tasks
    ]
    # The signal delivered again (a retry) and the sweep make nothing more.
    visit_completed.send(sender=type(visit), visit=visit)
    assert plans.plan_tasks_sweep() == 0
    assert Task.objects.filter(visit=visit).count() == 4


def test_a_service_with_no_plan_makes_no_task(
    front_desk, branch, person, doc, cleaning, implant_plan, cs, clock, django_capture_on_commit_callbacks
):
    visit = complete_visit(
        front_desk, branch, person, [cleaning], doc, capture=django_capture_on_commit_callbacks
    )
    assert not Task.objects.filter(visit=visit).exists()


def test_an_items_own_plan_wins_over_its_categorys(
    front_desk,
    branch,
    person,
    doc,
    extraction,
    extraction_plan,
    surgery,
    cs,
    clock,
    django_capture_on_commit_callbacks,
):
    own = make_plan("普通拔牙专属回访", item=extraction, steps=[("D+2", 2, "days")])
    visit = complete_visit(
        front_desk, branch, person, [extraction], doc, capture=django_capture_on_commit_callbacks
    )
    assert list(Task.objects.filter(visit=visit).values_list("title", flat=True)) == ["D+2"]
    assert Task.objects.get(visit=visit).step.plan == own


def test_voiding_the_visit_cancels_its_open_tasks_and_keeps_done_ones(
    front_desk,
    manager,
    branch,
    person,
    doc,
    implant,
    implant_plan,
    cs,
    clock,
    django_capture_on_commit_callbacks,
):
    visit = complete_visit(
        front_desk, branch, person, [implant], doc, capture=django_capture_on_commit_callbacks
    )
    first = Task.objects.filter(visit=visit).order_by("due_on").first()
    task_attempt_record(
        actor=cs, task=first, outcome=AttemptOutcome.REACHED, satisfaction=5, log_contact=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        checkout.visit_void(actor=manager, visit=visit, reason="收费错误")
    statuses = dict(Task.objects.filter(visit=visit).values_list("title", "status"))
    assert statuses == {"D+1": "done", "D+7": "cancelled", "D+30": "cancelled", "M+6": "cancelled"}
    assert set(Task.objects.filter(status="cancelled").values_list("close_reason", flat=True)) == {
        "visit_voided"
    }
    assert AuditLog.objects.filter(action="followups.tasks.cancelled", target_id=str(visit.pk)).count() == 1


def test_the_pool_is_shared_fairly_fewest_open_tasks_then_longest_waiting(branch, clock):
    a = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_a")
    b = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_b")
    make_staff(Role.FRONT_DESK, [branch], username="not_pool")
    person = make_member(branch)
    assert plans.pool_pick(branch) == a  # nobody has tasks: the lowest id
    task_create(
        actor=None, member=person, kind="followup", title="x", due_on=MONDAY, source_key="k1", assignee=a
    )
    assert plans.pool_pick(branch) == b  # b has fewer open tasks
    task_create(
        actor=None, member=person, kind="followup", title="x", due_on=MONDAY, source_key="k2", assignee=b
    )
    clock.shift(dt.timedelta(minutes=1))
    # Both have one open task: a was given one longest ago.
    assert plans.pool_pick(branch) == a
    task_create(
        actor=None, member=person, kind="followup", title="x", due_on=MONDAY, source_key="k3", assignee=a
    )
    assert plans.pool_pick(branch) == b


def test_staff_of_another_branch_or_inactive_are_not_in_the_pool(branch, other_branch):
    make_staff(Role.CUSTOMER_SERVICE, [other_branch], username="cs_there")
    gone = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_gone")
    gone.is_active = False
    gone.save()
    assert plans.pool_pick(branch) is None


def test_a_dedicated_rep_gets_the_tasks_when_the_tier_has_one(
    front_desk,
    branch,
    person,
    doc,
    extraction,
    extraction_plan,
    cs,
    clock,
    django_capture_on_commit_callbacks,
):
    import importlib

    from django.apps import apps

    from loyalty import services as loyalty_services
    from loyalty.models import Tier

    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)

    rep = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_rep")
    loyalty_services.membership_enrol(actor=None, member=person, branch=branch, welcome_points=0)
    ServiceRep.objects.create(member=person, rep=rep)
    membership = person.membership
    Tier.objects.filter(pk=membership.tier_id).update(dedicated_rep=False)
    v1 = complete_visit(
        front_desk, branch, person, [extraction], doc, capture=django_capture_on_commit_callbacks
    )
    assert Task.objects.get(visit=v1).assignee == cs  # the tier has no dedicated rep: the pool
    Tier.objects.filter(pk=membership.tier_id).update(dedicated_rep=True)
    person.refresh_from_db()
    v2 = complete_visit(
        front_desk, branch, person, [extraction], doc, day=1, capture=django_capture_on_commit_callbacks
    )
    assert Task.objects.get(visit=v2).assignee == rep


def test_a_doctor_step_goes_to_the_treating_doctor(
    front_desk, branch, person, doc, extraction, surgery, cs, clock, django_capture_on_commit_callbacks
):
    make_plan("医生回访", category=surgery, steps=[("医生电话", 1, "days")], rule="doctor")
    visit = complete_visit(
        front_desk, branch, person, [extraction], doc, capture=django_capture_on_commit_callbacks
    )
    assert Task.objects.get(visit=visit).assignee == doc


def test_a_monthly_step_comes_back_until_its_last_time_and_a_new_visit_restarts_it(
    front_desk, branch, person, doc, cs, clock, django_capture_on_commit_callbacks
):
    from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory

    ortho = ServiceCategoryFactory(code="ORTH", name="正畸")
    braces = ServiceItemFactory(code="OR01", name="金属托槽矫正", category=ortho, price="15000.00")
    make_plan(
        "正畸每月回访", category=ortho, steps=[("正畸月度回访", 1, "months")], times=3, channel="wechat"
    )
    visit = complete_visit(
        front_desk, branch, person, [braces], doc, capture=django_capture_on_commit_callbacks
    )
    first = Task.objects.get(visit=visit)
    assert (first.due_on, first.occurrence, first.channel) == (dt.date(2027, 1, 7), 1, "wechat")
    task_attempt_record(actor=cs, task=first, outcome=AttemptOutcome.REACHED, log_contact=False)
    second = Task.objects.get(visit=visit, occurrence=2)
    assert (second.due_on, second.previous, second.assignee) == (dt.date(2027, 2, 7), first, cs)
    assert second.source_key.endswith(":n:2")
    task_attempt_record(actor=cs, task=second, outcome=AttemptOutcome.WRONG_NUMBER, log_contact=False)
    third = Task.objects.get(visit=visit, occurrence=3)
    task_attempt_record(actor=cs, task=third, outcome=AttemptOutcome.REACHED, log_contact=False)
    assert Task.objects.filter(visit=visit).count() == 3  # the third was the last
    # A later adjustment visit restarts the monthly calls: no two open chains.
    v1 = complete_visit(
        front_desk, branch, person, [braces], doc, day=1, capture=django_capture_on_commit_callbacks
    )
    v2 = complete_visit(
        front_desk, branch, person, [braces], doc, day=2, capture=django_capture_on_commit_callbacks
    )
    assert Task.objects.get(visit=v1).status == TaskStatus.CANCELLED
    assert Task.objects.get(visit=v1).close_reason == "superseded"
    assert Task.objects.get(visit=v2).status == TaskStatus.OPEN


def test_care_instructions_go_out_once_by_sms(
    front_desk,
    branch,
    person,
    doc,
    extraction,
    extraction_plan,
    cs,
    clock,
    django_capture_on_commit_callbacks,
):
    visit = complete_visit(
        front_desk, branch, person, [extraction], doc, capture=django_capture_on_commit_callbacks
    )
    rows = Outbox.objects.filter(template_key=plans.CARE_TEMPLATE)
    assert rows.count() == 1
    row = rows.get()
    assert (row.channel, row.recipient, row.purpose) == ("sms", "+8613900002222", "service")
    assert row.params["instructions"] == "咬紧棉球30分钟。" and row.params["service"] == "普通拔牙"
    assert row.dedupe_key == f"followups:care:visit:{visit.pk}:plan:{extraction_plan.pk}"
    visit_completed.send(sender=type(visit), visit=visit)
    assert rows.count() == 1


def test_an_opted_out_person_gets_no_care_message_and_the_tasks_are_still_made(
    front_desk,
    branch,
    person,
    doc,
    extraction,
    extraction_plan,
    cs,
    clock,
    django_capture_on_commit_callbacks,
):
    optout_set(actor=None, channel="sms", recipient=person.phone, scope="all", reason="不要短信")
    visit = complete_visit(
        front_desk, branch, person, [extraction], doc, capture=django_capture_on_commit_callbacks
    )
    assert not Outbox.objects.filter(template_key=plans.CARE_TEMPLATE).exists()
    assert Task.objects.filter(visit=visit).count() == 1


def test_a_failing_listener_never_breaks_the_checkout_and_the_sweep_catches_up(
    front_desk,
    branch,
    person,
    doc,
    extraction,
    extraction_plan,
    cs,
    clock,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    def boom(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(plans, "plan_tasks_for_visit", boom)
    visit = complete_visit(
        front_desk, branch, person, [extraction], doc, capture=django_capture_on_commit_callbacks
    )
    assert visit.status == "checked_out" and not Task.objects.filter(visit=visit).exists()
    monkeypatch.undo()
    assert plans.plan_tasks_sweep() == 1
    assert plans.plan_tasks_sweep() == 0


def test_overdue_tasks_escalate_to_the_branch_manager_once(branch, other_branch, clock):
    manager = make_staff(Role.BRANCH_MANAGER, [branch], username="boss")
    manager.email = "boss@example.com"
    manager.save()
    person = make_member(branch)
    yesterday, today = MONDAY - dt.timedelta(days=1), MONDAY

    def mk(key, due):
        return task_create(actor=None, member=person, kind="recall", title=key, due_on=due, source_key=key)[0]

    late, due_today = mk("late", yesterday), mk("today", today)
    done = mk("done", yesterday - dt.timedelta(days=5))
    Task.objects.filter(pk=done.pk).update(status=TaskStatus.DONE)
    assert plans.tasks_escalate_overdue() == {"tasks": 1, "branches": 1}
    late.refresh_from_db()
    due_today.refresh_from_db()
    assert (late.escalated_to, late.escalated_at is not None) == (manager, True)
    assert due_today.escalated_at is None
    assert plans.tasks_escalate_overdue() == {"tasks": 0, "branches": 0}
    mail = Outbox.objects.get(template_key=plans.ESCALATION_TEMPLATE)
    assert (mail.channel, mail.recipient, mail.params["count"]) == ("email", "boss@example.com", 1)
    assert AuditLog.objects.filter(action="followups.tasks.escalated").count() == 1


def test_a_retry_takes_an_escalated_task_off_the_supervisors_list(branch, clock):
    manager = make_staff(Role.BRANCH_MANAGER, [branch], username="boss")
    cs = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_a")
    person = make_member(branch)
    task = task_create(
        actor=None,
        member=person,
        kind="followup",
        title="x",
        due_on=MONDAY - dt.timedelta(days=3),
        source_key="x",
    )[0]
    plans.tasks_escalate_overdue()
    task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.NOT_REACHED, log_contact=False)
    task.refresh_from_db()
    assert (task.escalated_at, task.escalated_to, task.due_on) == (None, None, MONDAY + dt.timedelta(days=1))
    assert manager  # the supervisor existed, and no longer has it


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 8, 31), 6, dt.date(2027, 2, 28)),
        (dt.date(2027, 8, 31), 6, dt.date(2028, 2, 29)),
        (dt.date(2026, 12, 7), 1, dt.date(2027, 1, 7)),
        (dt.date(2026, 1, 15), 0, dt.date(2026, 1, 15)),
    ],
)
def test_months_are_calendar_months_clamped_to_the_months_end(day, months, expected):
    assert plans.add_months(day, months) == expected


def test_the_receivers_are_connected():
    assert any("followups.plans.visit_completed" in str(r[0]) for r in visit_completed.receivers)
    assert plan_receivers.on_visit_completed


def test_closing_a_monthly_task_without_a_call_still_brings_the_next_month(
    front_desk, branch, person, doc, cs, clock, django_capture_on_commit_callbacks
):
    from followups.task_services import task_close
    from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory

    ortho = ServiceCategoryFactory(code="ORTH", name="正畸")
    braces = ServiceItemFactory(code="OR02", name="隐形矫正", category=ortho, price="32000.00")
    make_plan("正畸每月回访", category=ortho, steps=[("正畸月度回访", 1, "months")], times=24)
    visit = complete_visit(
        front_desk, branch, person, [braces], doc, capture=django_capture_on_commit_callbacks
    )
    task_close(actor=cs, task=Task.objects.get(visit=visit), reason="本月已到店复诊")
    nxt = Task.objects.get(visit=visit, occurrence=2)
    assert (nxt.status, nxt.due_on) == ("open", dt.date(2027, 2, 7))
