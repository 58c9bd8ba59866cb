"""The beat jobs of recall, dormancy, care and surveys: on the schedule, each calls its
service, records its heartbeat, and a second run changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from clinic.models import JobHeartbeat
from followups import recall_tasks
from followups.models import Recall, SurveyInvitation, Task
from followups.recall import sync_since

pytestmark = pytest.mark.django_db


def test_every_followups_beat_entry_names_a_task_of_this_module():
    entries = {
        k: v
        for k, v in settings.CELERY_BEAT_SCHEDULE.items()
        if k.startswith("followups-") and v["task"].startswith("followups.recall_tasks.")
    }
    assert {v["task"] for v in entries.values()} == {
        "followups.recall_tasks.recall_nightly",
        "followups.recall_tasks.recall_reminders",
        "followups.recall_tasks.care_daily",
        "followups.recall_tasks.surveys_send",
        "followups.recall_tasks.event_surveys_send",
    }
    assert "followups.recall_tasks" in settings.CELERY_IMPORTS
    for entry in entries.values():
        name = entry["task"].rsplit(".", 1)[1]
        assert getattr(recall_tasks, name).name == entry["task"]


def test_the_nightly_job_backfills_then_syncs_from_two_days_before_its_last_run(
    person, cleaning, visit_on, clock
):
    visit_on(person, cleaning, dt.date(2026, 1, 5))
    Recall.objects.all().delete()
    assert sync_since() is None
    clock.go(dt.date(2026, 1, 6), 1, 15)
    out = recall_tasks.recall_nightly.apply().get()
    assert out["sync"] == {"created": 1, "replayed": 0}
    assert JobHeartbeat.objects.get(name="followups.recall_nightly").runs == 1
    assert sync_since() == clock_now() - dt.timedelta(days=2)
    again = recall_tasks.recall_nightly.apply().get()
    assert again["sync"] == {"created": 0, "replayed": 0} and again["calls"] == 0
    assert not Task.objects.exists()


def clock_now():
    from django.utils import timezone

    return timezone.now()


def test_the_survey_job_invites_a_visit_whose_signal_was_lost_and_sends_it_when_due(
    person, cleaning, visit_on, clock
):
    visit = visit_on(person, cleaning, dt.date(2026, 12, 7))
    SurveyInvitation.objects.all().delete()  # as if the listener had failed
    clock.go(dt.date(2026, 12, 7), 14)
    out = recall_tasks.surveys_send.apply().get()
    assert out == {"invited": 1, "sent": 1, "skipped": 0}
    assert SurveyInvitation.objects.get(visit=visit).status == "sent"
    assert recall_tasks.surveys_send.apply().get() == {"invited": 0, "sent": 0, "skipped": 0}


def test_the_reminder_and_care_jobs_run_their_services(person, clock):
    clock.go(dt.date(2026, 10, 1), 10)
    assert recall_tasks.recall_reminders.apply().get() == {"early": 0, "due": 0}
    assert recall_tasks.care_daily.apply().get()["holidays"] == 1  # 国庆节 to 张三
    assert JobHeartbeat.objects.filter(name__startswith="followups.").count() == 2
