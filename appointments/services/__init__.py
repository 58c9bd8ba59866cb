"""Every write to bookings, shifts and reminders, one module per concern. Each service owns its
transaction, writes its audit row and its timeline event inside it. Visits and checkout live in
``appointments.checkout``. Callers import from here: ``from appointments import services`` /
``from appointments.services import appointment_book``.

- ``booking``: the slot checks, saving under the exclusion constraints (advisory locks,
  overbooking), ``appointment_book`` and ``appointment_move``;
- ``states``: the state machine (confirm, check in, treatment, complete, cancel) and no-shows;
- ``reminders``: the booking's reminder rows and the sweep into the outbox;
- ``shifts``: weekly shifts, leave and extra shifts, moving a doctor's bookings in bulk;
- ``online``: the member's own booking from the H5 portal (free slots, book, cancel, move);
- ``walk_ins``: fair assignment of people without a booking;
- ``common``: helpers the others share.
"""

from __future__ import annotations

from ..errors import AppointmentError
from .booking import (
    OVERRIDE_PERM,
    appointment_book,
    appointment_move,
)
from .common import (
    _event,  # noqa: F401  (appointments.checkout writes its timeline events with it)
    doctor_name,
)
from .online import (
    member_appointment_book,
    member_appointment_cancel,
    member_appointment_reschedule,
    online_services,
    online_slots,
)
from .reminders import reminders_sweep
from .shifts import (
    affected_appointments,
    appointments_bulk_move,
    shift_exception_add,
    shift_template_set,
)
from .states import (
    TRANSITIONS,
    _transition,  # noqa: F401  (the demo data and the state tests drive transitions directly)
    appointment_cancel,
    appointment_check_in,
    appointment_complete,
    appointment_confirm,
    appointment_start_treatment,
    no_shows_mark,
)
from .walk_ins import walk_in_candidates, walk_in_register

__all__ = [
    "OVERRIDE_PERM",
    "TRANSITIONS",
    "AppointmentError",
    "affected_appointments",
    "appointment_book",
    "appointment_cancel",
    "appointment_check_in",
    "appointment_complete",
    "appointment_confirm",
    "appointment_move",
    "appointment_start_treatment",
    "appointments_bulk_move",
    "doctor_name",
    "member_appointment_book",
    "member_appointment_cancel",
    "member_appointment_reschedule",
    "no_shows_mark",
    "online_services",
    "online_slots",
    "reminders_sweep",
    "shift_exception_add",
    "shift_template_set",
    "walk_in_candidates",
    "walk_in_register",
]
