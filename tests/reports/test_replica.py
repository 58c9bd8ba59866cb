"""REPORTS_DATABASE_URL: inside a report page, reads (ORM and raw SQL) go to the replica
alias; writes, and reads outside report pages, stay on the primary; the replica is never
migrated."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings
from django.test import override_settings

from members.models import Member
from reports import db


def _with_replica():
    databases = copy.deepcopy(settings.DATABASES)
    databases["reports"] = copy.deepcopy(databases["default"])
    return override_settings(DATABASES=databases)


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_reads_in_a_report_page_go_to_the_replica_and_writes_never_do():
    router = db.ReportsReplicaRouter()
    with _with_replica():
        assert router.db_for_read(Member) is None and db.read_alias() == "default"
        with db.replica_reads():
            assert router.db_for_read(Member) == "reports"
            assert db.read_alias() == "reports"
            assert router.db_for_write(Member) == "default"
        assert db.read_alias() == "default"  # the context ends with the view
        assert router.allow_migrate("reports", "members") is False
        assert router.allow_migrate("default", "members") is None


def test_without_a_replica_everything_stays_on_default():
    router = db.ReportsReplicaRouter()
    assert "reports" not in settings.DATABASES
    with db.replica_reads():
        assert router.db_for_read(Member) is None and db.read_alias() == "default"
    assert router.allow_migrate("default", "reports") is None


def test_the_report_views_read_through_the_replica():
    from reports import close_views, dashboard_views

    for view in (
        dashboard_views.branch_dashboard,
        dashboard_views.drilldown,
        dashboard_views.drill_export,
        dashboard_views.dashboard_export,
        close_views.months,
        close_views.month,
    ):
        assert getattr(view, "reads_replica", False), view
