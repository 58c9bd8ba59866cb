"""The member's appointments in the portal: upcoming and past, booking from free slots of the
services HQ opened to online booking, cancelling and moving up to the notice. Thin views over
``appointments.services.online``; the exclusion constraints decide a race for a slot."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from appointments import conf as appt_conf
from appointments.errors import AppointmentError
from appointments.models import Appointment
from appointments.services import online

from .auth import member_required
from .session import PortalActor

DAYS_SHOWN = 7


def _person(request, member_id=None):
    """The person the page acts for: the switcher's choice, or a family member the phone
    reaches (``?member=``); anybody else's id is a 404, never their data."""
    if member_id in (None, ""):
        return request.portal.member
    if not request.portal.reaches(member_id):
        raise Http404
    return next(m for m in request.portal.members if m.pk == int(member_id))


def _actor(person):
    return PortalActor(person)


def _day(value, default: dt.date) -> dt.date:
    try:
        day = dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default
    return day


def _own_appointment(request, pk: int) -> Appointment:
    """One of the logged-in phone's people's bookings, else 404."""
    return get_object_or_404(
        Appointment.objects.select_related("branch", "service", "member", "doctor__staff"),
        pk=pk,
        member_id__in=request.portal.member_ids,
    )


@member_required
@require_http_methods(["GET"])
def appointments(request):
    person = request.portal.member
    upcoming, past = online.upcoming_and_past(person)
    now = timezone.now()
    for a in upcoming:
        a.changeable = online.can_change(a, now)
    return render(
        request,
        "portal/appointments.html",
        {
            "nav": "appointments",
            "person": person,
            "upcoming": upcoming,
            "past": past,
            "notice_hours": f"{appt_conf.get('APPOINTMENTS_MEMBER_NOTICE_MINUTES') / 60:g}",
        },
    )


def _slot_context(request, *, person, service, branch, day):
    today = timezone.localdate()
    _earliest, last_day = online.window()
    day = min(max(day, today), last_day)
    days = [today + dt.timedelta(days=i) for i in range((last_day - today).days + 1)]
    start_index = max(0, min(days.index(day) - 2, len(days) - DAYS_SHOWN)) if day in days else 0
    slots = online.online_slots(service=service, branch=branch, start_day=day, days=1, member=person)
    return {
        "day": day,
        "days": days[start_index : start_index + DAYS_SHOWN],
        "prev_day": days[start_index - 1] if start_index > 0 else None,
        "next_day": days[start_index + DAYS_SHOWN] if start_index + DAYS_SHOWN < len(days) else None,
        "slots": slots,
        "has_priority": any(s.priority for s in slots),
    }


@member_required
@require_http_methods(["GET", "POST"])
def book(request):
    """Step 1: a service and a branch; step 2: a day and a free time; POST books it."""
    data = request.POST if request.method == "POST" else request.GET
    person = _person(request, data.get("member"))
    services = list(online.online_services())
    branches = list(online.online_branches())
    service = next((s for s in services if str(s.pk) == data.get("service")), None)
    branch = next((b for b in branches if str(b.pk) == data.get("branch")), None)
    default_day = timezone.localdate()
    recall = _recall(data.get("recall"), person)
    if recall is not None:
        service = service or next((s for s in services if s.pk in recall["service_ids"]), None)
        branch = branch or next((b for b in branches if b.pk == recall["branch_id"]), None)
        default_day = max(recall["due_on"], default_day)
    if branch is None:
        branch = next((b for b in branches if b.pk == person.branch_id), branches[0] if branches else None)
    if service is None and len(services) == 1:
        service = services[0]
    day = _day(data.get("day"), default_day)
    error = ""
    if request.method == "POST":
        if service is None or branch is None:
            error = _("Choose a service and a branch.")
        else:
            try:
                start, doctor_id = online.parse_slot_key(data.get("slot", ""))
                appt = online.member_appointment_book(
                    actor=_actor(person),
                    member=person,
                    branch=branch,
                    service=service,
                    start=start,
                    doctor_id=doctor_id,
                    notes=data.get("notes", ""),
                )
            except AppointmentError as exc:
                error = str(exc.message)
                day = _day(data.get("day"), day)
            else:
                messages.success(
                    request,
                    _("Booked: %(service)s on %(start)s at %(branch)s.")
                    % {
                        "service": appt.service,
                        "start": timezone.localtime(appt.start).strftime("%Y-%m-%d %H:%M"),
                        "branch": appt.branch,
                    },
                )
                return redirect("portal:appointments")
    context = {
        "nav": "appointments",
        "person": person,
        "services": services,
        "branches": branches,
        "service": service,
        "branch": branch,
        "error": error,
        "for_other": person.pk != request.portal.member.pk,
    }
    if service is not None and branch is not None:
        context.update(_slot_context(request, person=person, service=service, branch=branch, day=day))
        hidden = [("service", service.pk), ("branch", branch.pk)]
        if context["for_other"]:
            hidden.append(("member", person.pk))
        context["slot_hidden"] = hidden
        context["slot_query"] = urlencode(hidden)
    return render(
        request, "portal/book.html", context, status=409 if error and request.method == "POST" else 200
    )


def _recall(value, person):
    """The recall a home-page "book now" link names, if it is this person's."""
    if not value or not str(value).isdigit():
        return None
    try:
        from followups.models import Recall
    except ImportError:  # pragma: no cover - followups is installed
        return None
    recall = Recall.objects.filter(pk=int(value), member=person).select_related("recall_type").first()
    if recall is None:
        return None
    return {
        "service_ids": set(recall.recall_type.trigger_services.values_list("pk", flat=True)),
        "branch_id": recall.branch_id,
        "due_on": recall.due_on or timezone.localdate(),
    }


@member_required
@require_POST
def appointment_cancel(request, pk: int):
    appt = _own_appointment(request, pk)
    try:
        online.member_appointment_cancel(
            actor=_actor(appt.member), appointment=appt, reason=request.POST.get("reason", "")
        )
    except AppointmentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your appointment is cancelled."))
    return redirect(reverse("portal:appointments"))


@member_required
@require_http_methods(["GET", "POST"])
def appointment_reschedule(request, pk: int):
    appt = _own_appointment(request, pk)
    error = ""
    data = request.POST if request.method == "POST" else request.GET
    day = _day(data.get("day"), timezone.localtime(appt.start).date())
    if not online.can_change(appt):
        messages.error(
            request,
            _("This appointment can no longer be changed online; please call the branch at %(phone)s.")
            % {"phone": appt.branch.phone or appt.branch.name},
        )
        return redirect("portal:appointments")
    if request.method == "POST":
        try:
            start, doctor_id = online.parse_slot_key(data.get("slot", ""))
            online.member_appointment_reschedule(
                actor=_actor(appt.member), appointment=appt, start=start, doctor_id=doctor_id
            )
        except AppointmentError as exc:
            error = str(exc.message)
        else:
            messages.success(request, _("Your appointment is moved."))
            return redirect("portal:appointments")
    context = {
        "nav": "appointments",
        "appt": appt,
        "error": error,
        "service": appt.service,
        "branch": appt.branch,
    }
    context.update(
        _slot_context(request, person=appt.member, service=appt.service, branch=appt.branch, day=day)
    )
    # The booking itself holds its current time: offer the others.
    context["slots"] = [s for s in context["slots"] if s.start != appt.start]
    context["slot_hidden"] = []
    return render(request, "portal/reschedule.html", context, status=409 if error else 200)
