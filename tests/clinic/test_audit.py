from __future__ import annotations

import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, transaction

from clinic import services
from clinic.models import AuditLog, Role
from tests.clinic.factories import ServiceItemFactory


@pytest.mark.django_db
def test_audit_row_is_written_in_the_transaction_and_rolled_back_with_it(branch, hq_admin):
    item = ServiceItemFactory(price="280.00")
    before = AuditLog.objects.count()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        item.price = "300.00"
        services.record_save(actor=hq_admin, instance=item)
        assert AuditLog.objects.count() == before + 1
        raise Boom
    assert AuditLog.objects.count() == before
    item.refresh_from_db()
    assert str(item.price) == "280.00"


@pytest.mark.django_db
def test_record_save_audits_old_and_new_values(hq_admin):
    item = ServiceItemFactory(price="280.00")
    item.price = "300.00"
    services.record_save(actor=hq_admin, instance=item)
    row = AuditLog.objects.filter(action="clinic.serviceitem.changed").latest("at")
    assert row.changes == {"price": ["280.00", "300.00"]}
    assert row.actor == hq_admin and row.target_id == str(item.pk)


@pytest.mark.django_db
def test_unchanged_save_writes_no_audit_row(hq_admin):
    item = ServiceItemFactory()
    count = AuditLog.objects.count()
    services.record_save(actor=hq_admin, instance=item)
    assert AuditLog.objects.count() == count


@pytest.mark.django_db(transaction=True)
def test_audit_record_outside_a_transaction_is_refused(manager):
    with pytest.raises(RuntimeError):
        services.audit_record(actor=manager, action="x.y")


@pytest.mark.django_db
def test_audit_log_is_append_only_in_the_database(manager):
    with transaction.atomic():
        row = services.audit_record(actor=manager, action="clinic.test.done")
    with pytest.raises((InternalError, ProgrammingError, IntegrityError)), transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).update(action="tampered")
    with pytest.raises((InternalError, ProgrammingError, IntegrityError)), transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).delete()
    assert AuditLog.objects.get(pk=row.pk).action == "clinic.test.done"


@pytest.mark.django_db
def test_staff_role_change_is_audited_and_moves_the_group(front_desk, hq_admin):
    services.staff_update(actor=hq_admin, profile=front_desk.staff, role=Role.BRANCH_MANAGER)
    front_desk.refresh_from_db()
    assert list(front_desk.groups.values_list("name", flat=True)) == ["店长"]
    assert front_desk.is_staff
    row = AuditLog.objects.get(action="clinic.staff.changed")
    assert row.changes["role"] == ["front_desk", "branch_manager"]
    assert row.actor == hq_admin


@pytest.mark.django_db
def test_field_history_is_kept_by_pghistory(hq_admin):
    item = ServiceItemFactory(price="100.00")
    item.price = "120.00"
    services.record_save(actor=hq_admin, instance=item)
    events = item.events.order_by("pgh_id").values_list("price", flat=True)
    assert [str(p) for p in events] == ["100.00", "120.00"]
