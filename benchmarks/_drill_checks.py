"""The reconciliations every fault drill ends with, and the checkout-interruption drill itself
(benchmarks/drills.py runs them on its private database; tests/clinic/test_fault_drills.py
runs the checkout drill on the test database). Django must be set up.

- ``checkout_problems``: a visit is checked out ⇔ it has its payment rows (adding up to what
  was paid) ⇔ its purchase and, when it earned points, its points entry with its lot; an open
  visit has none of them. One checkout audit row per checked-out visit.
- ``check_in_problems``: an appointment past arrival ⇔ exactly one arrival event.
- ``outbox_reconciliation``: per outbox row, how many times the provider stand-in
  (benchmarks/_drill_backend.py) accepted it: twice is a duplicate, a row not sent (or sent
  with no record at the provider) is lost.
- ``ledger_drift``: the points and stored-value reconciliations (balance == entries == lots).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import DatabaseError, connection, transaction


def ledger_drift() -> int:
    from loyalty.services.ledger_jobs import ledger_drift_rows
    from loyalty.services.stored_value import stored_value_drift_rows

    return len(ledger_drift_rows()) + len(stored_value_drift_rows())


def checkout_problems(visit_ids: Iterable[int]) -> list[str]:
    """What is half done among these visits (empty: each is wholly checked out or wholly not)."""
    from appointments.models import Visit, VisitStatus
    from clinic.models import AuditLog
    from loyalty.models import PointsEntry, PointsLot, Purchase

    problems = []
    for visit in Visit.objects.filter(pk__in=list(visit_ids)).order_by("pk"):
        source = f"visit:{visit.pk}"
        paid = sum((p.amount for p in visit.payments.filter(reverses__isnull=True, amount__gt=0)), Decimal(0))
        payments = visit.payments.count()
        purchase = Purchase.objects.filter(source_key=source).count()
        entry = PointsEntry.objects.filter(idempotency_key=f"{source}:earn").first()
        lot = PointsLot.objects.filter(entry=entry).first() if entry else None
        audits = AuditLog.objects.filter(
            action="appointments.visit.checked_out", target_id=str(visit.pk)
        ).count()
        if visit.status == VisitStatus.CHECKED_OUT:
            if paid != visit.amount_paid or (visit.amount_paid and not payments):
                problems.append(
                    f"visit {visit.pk}: checked out, paid {visit.amount_paid}, payment rows {paid}"
                )
            if purchase != 1:
                problems.append(f"visit {visit.pk}: checked out with {purchase} purchase rows")
            if visit.points_earned and (entry is None or lot is None or lot.points != visit.points_earned):
                problems.append(f"visit {visit.pk}: {visit.points_earned} points earned but no matching lot")
            if not visit.points_earned and entry is not None:
                problems.append(f"visit {visit.pk}: a points entry for a checkout that earned none")
            if audits != 1:
                problems.append(f"visit {visit.pk}: {audits} checkout audit rows")
        elif visit.status == VisitStatus.OPEN and (
            payments or purchase or entry or audits or visit.checkout_key
        ):
            problems.append(
                f"visit {visit.pk}: open but payments={payments} purchase={purchase} "
                f"points={'yes' if entry else 'no'} audit={audits} key={visit.checkout_key!r}"
            )
    return problems


def check_in_problems(appointment_ids: Iterable[int]) -> list[str]:
    from appointments.models import Appointment, AppointmentEvent, Status

    arrived = {Status.ARRIVED, Status.IN_TREATMENT, Status.COMPLETED}
    events = Counter(
        AppointmentEvent.objects.filter(
            appointment_id__in=list(appointment_ids), action="arrive"
        ).values_list("appointment_id", flat=True)
    )
    problems = []
    for pk, status in Appointment.objects.filter(pk__in=list(appointment_ids)).values_list("pk", "status"):
        expected = 1 if status in arrived else 0
        if events[pk] != expected:
            problems.append(f"appointment {pk}: status {status} with {events[pk]} arrival events")
    return problems


@dataclass
class OutboxTally:
    rows: int = 0
    sent: int = 0
    duplicates: int = 0
    lost: int = 0
    statuses: dict = field(default_factory=dict)
    examples: list = field(default_factory=list)


def outbox_reconciliation(dedupe_prefix: str, journal: list[dict]) -> OutboxTally:
    """The drill's rows (``dedupe_key`` starting with ``dedupe_prefix``) against the provider's
    record of every send it accepted."""
    from clinic.notifications.models import Outbox, Status

    rows = list(
        Outbox.objects.filter(dedupe_key__startswith=dedupe_prefix).values_list("pk", "dedupe_key", "status")
    )
    accepted = Counter(entry["outbox_id"] for entry in journal)
    tally = OutboxTally(rows=len(rows), statuses=dict(Counter(status for _pk, _key, status in rows)))
    for pk, key, status in rows:
        times = accepted[pk]
        if times > 1:
            tally.duplicates += times - 1
            tally.examples.append(f"{key} sent {times} times")
        if status == Status.SENT and times >= 1:
            tally.sent += 1
        else:
            tally.lost += 1
            tally.examples.append(f"{key}: {status}, provider has it {times} times")
    return tally


# --- The checkout interrupted between payment and points ---------------------------------

INTERRUPT_TRIGGER = "drill_interrupt_points"


def _points_step_breaks(on: bool) -> None:
    """A real database error in the points step: a trigger that refuses a visit's points
    entry. Its message says how many payment and purchase rows of that visit the checkout's
    transaction held at that moment: the proof that the error fell between payment and points."""
    with connection.cursor() as cursor:
        if on:
            cursor.execute(
                f"""CREATE OR REPLACE FUNCTION {INTERRUPT_TRIGGER}() RETURNS trigger AS $$
                    DECLARE visit bigint := split_part(NEW.source_key, ':', 2)::bigint;
                    BEGIN
                      RAISE EXCEPTION 'drill: the points step was interrupted (payments=%, purchases=%)',
                        (SELECT count(*) FROM appointments_payment WHERE visit_id = visit),
                        (SELECT count(*) FROM loyalty_purchase WHERE source_key = NEW.source_key);
                    END $$ LANGUAGE plpgsql"""
            )
            cursor.execute(
                f"CREATE TRIGGER {INTERRUPT_TRIGGER} BEFORE INSERT ON loyalty_pointsentry FOR EACH ROW "
                f"WHEN (NEW.source_key LIKE 'visit:%') EXECUTE FUNCTION {INTERRUPT_TRIGGER}()"
            )
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {INTERRUPT_TRIGGER} ON loyalty_pointsentry")
            cursor.execute(f"DROP FUNCTION IF EXISTS {INTERRUPT_TRIGGER}()")


@dataclass
class CheckoutDrill:
    interrupted_error: str = ""
    payments_in_flight: int = 0  # payment rows the interrupted transaction held at the error
    problems_after_interruption: list = field(default_factory=list)
    problems_after_retry: list = field(default_factory=list)
    payments_after_retry: int = 0
    points_after_retry: int = 0
    double_submit_same_checkout: bool = False
    payments_after_double_submit: int = 0
    drift: int = 0

    @property
    def passed(self) -> bool:
        return (
            bool(self.interrupted_error)
            and self.payments_in_flight > 0
            and not self.problems_after_interruption
            and not self.problems_after_retry
            and self.payments_after_retry > 0
            and self.points_after_retry > 0
            and self.double_submit_same_checkout
            and self.payments_after_double_submit == self.payments_after_retry
            and self.drift == 0
        )


def checkout_interruption_drill(
    *, actor, visit, method: str = "wechat_pay", key: str = "drill-checkout"
) -> CheckoutDrill:
    """Check ``visit`` out while its points step fails with a database error, then again once
    it works, then a third time with the same key (a double submit). ``visit``: an open visit
    with charge lines, of a member who earns points. The trigger is dropped whatever happens."""
    import re

    from appointments import checkout
    from appointments.models import Visit

    result = CheckoutDrill()
    _lines, quote = checkout.quote(visit=visit)
    payments = [(method, quote.amount_due)]
    _points_step_breaks(True)
    try:
        try:
            with transaction.atomic():  # a savepoint when the caller has a transaction (tests)
                checkout.visit_checkout(actor=actor, visit=visit, payments=payments, checkout_key=key)
        except DatabaseError as exc:
            result.interrupted_error = str(exc).splitlines()[0]
            found = re.search(r"payments=(\d+)", result.interrupted_error)
            result.payments_in_flight = int(found.group(1)) if found else 0
    finally:
        _points_step_breaks(False)
    result.problems_after_interruption = checkout_problems([visit.pk])
    done = checkout.visit_checkout(
        actor=actor, visit=Visit.objects.get(pk=visit.pk), payments=payments, checkout_key=key
    )
    result.problems_after_retry = checkout_problems([visit.pk])
    result.payments_after_retry = done.payments.count()
    result.points_after_retry = done.points_earned
    again = checkout.visit_checkout(
        actor=actor, visit=Visit.objects.get(pk=visit.pk), payments=payments, checkout_key=key
    )
    result.double_submit_same_checkout = again.pk == done.pk and again.checked_out_at == done.checked_out_at
    result.payments_after_double_submit = again.payments.count()
    result.drift = ledger_drift()
    return result
