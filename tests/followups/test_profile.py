"""The person's profile: a 回访 tab with their tasks and each attempt on the timeline."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import Role
from followups.models import AttemptOutcome
from followups.services import task_create
from followups.task_services import task_attempt_record
from tests.appointments.factories import MONDAY
from tests.conftest import login, make_staff
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


def test_the_profile_shows_the_tasks_tab_and_attempts_on_the_timeline(branch, clock):
    cs = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_a")
    person = make_member(branch, name="周敏")
    task = task_create(
        actor=None,
        member=person,
        kind="followup",
        title="拔牙术后第1天回访",
        due_on=MONDAY,
        source_key="p1",
        assignee=cs,
    )[0]
    task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.REACHED, satisfaction=4, notes="不痛了")
    client = login(cs)
    overview = client.get(reverse("members:detail", args=[person.pk])).content.decode()
    assert "不痛了" in overview and "拔牙术后第1天回访" in overview  # the attempt on the timeline
    tab = client.get(reverse("members:detail", args=[person.pk]), {"tab": "followups"}).content.decode()
    assert 'data-testid="member-followups"' in tab and "已联系上" in tab


def test_the_front_desk_has_no_tasks_tab(branch, front_desk, clock):
    person = make_member(branch)
    html = (
        login(front_desk)
        .get(reverse("members:detail", args=[person.pk]), {"tab": "followups"})
        .content.decode()
    )
    assert 'data-testid="member-followups"' not in html
    assert 'href="?tab=followups"' not in html
