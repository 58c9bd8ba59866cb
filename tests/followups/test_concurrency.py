"""Two people on one task, two checkouts at one branch: the row lock and the pool's advisory
lock decide, on real PostgreSQL with threads."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from clinic.models import Role
from followups import plans
from followups.models import AttemptOutcome, Task
from followups.services import task_create
from followups.task_services import TaskError, task_attempt_record
from tests.appointments.factories import MONDAY
from tests.conftest import make_staff
from tests.members.factories import make_member

N = 4


def race(fn, args_list):
    barrier = threading.Barrier(len(args_list))
    results: list = []
    lock = threading.Lock()

    def worker(args):
        try:
            barrier.wait()
            outcome = fn(*args)
        except TaskError as exc:
            outcome = exc.code
        except Exception as exc:  # anything else would be a 500
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(a,)) for a in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_one_task_worked_by_several_at_once_is_closed_once(branch):
    workers = [make_staff(Role.CUSTOMER_SERVICE, [branch], username=f"cs_{i}") for i in range(N)]
    task = task_create(
        actor=None, member=make_member(branch), kind="followup", title="x", due_on=MONDAY, source_key="race"
    )[0]

    def work(user):
        task_attempt_record(actor=user, task=task, outcome=AttemptOutcome.REACHED, log_contact=False)
        return "ok"

    results = race(work, [(u,) for u in workers])
    assert sorted(results) == ["closed"] * (N - 1) + ["ok"], results
    task.refresh_from_db()
    assert (task.attempts_count, task.attempts.count(), task.status) == (1, 1, "done")


@pytest.mark.django_db(transaction=True)
def test_concurrent_assignments_at_one_branch_share_the_pool(branch):
    pool = [make_staff(Role.CUSTOMER_SERVICE, [branch], username=f"cs_{i}") for i in range(N)]
    people = [make_member(branch, name=f"并发{i}") for i in range(N)]

    def assign(i, person):
        # What a visit's listener does: pick from the pool and create, in one transaction.
        with transaction.atomic():
            who = plans.pool_pick(branch)
            task_create(
                actor=None,
                member=person,
                kind="followup",
                title="x",
                due_on=MONDAY,
                source_key=f"pool:{i}",
                assignee=who,
            )
        return who.pk

    results = race(assign, list(enumerate(people)))
    # Without the advisory lock every thread reads the same counts and picks the same person.
    assert sorted(results) == sorted(u.pk for u in pool), results
    assert Task.objects.filter(assignee__in=pool).count() == N
