"""Views: happy paths, outsiders 404, wrong roles 403, read-only POST refused, query caps."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments import services
from appointments.models import Appointment, Status
from tests.members.factories import make_member

from .factories import MONDAY, at, book, make_chair, make_doctor

pytestmark = pytest.mark.django_db


@pytest.fixture
def appt(doc, branch, member, service, front_desk, clock):
    return book(front_desk, branch, member, service, doc, at(0, 10))


def test_day_view_shows_a_column_per_doctor(client_for, front_desk, appt, doc2):
    r = client_for(front_desk).get(reverse("appointments:day"), {"date": "2026-12-07"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "陈医生" in html and "李医生" in html and "张三" in html
    assert html.count('data-testid="day-column"') == 2


def test_day_view_by_chair(client_for, front_desk, branch, member, service, doc, clock):
    chair = make_chair(branch)
    book(front_desk, branch, member, service, doc, at(0, 10), chair=chair)
    r = client_for(front_desk).get(reverse("appointments:day"), {"date": "2026-12-07", "by": "chair"})
    assert "1号椅" in r.content.decode() and "张三" in r.content.decode()


def test_day_view_query_count_does_not_grow_with_doctors(
    client_for, front_desk, branch, service, clock, django_assert_max_num_queries
):
    for i in range(6):
        d = make_doctor(branch, f"d{i}", f"医生{i}")
        for h in (9, 10, 11):
            book(front_desk, branch, make_member(branch, name=f"病人{i}{h}"), service, d, at(0, h))
    client = client_for(front_desk)
    with django_assert_max_num_queries(20):
        r = client.get(reverse("appointments:day"), {"date": "2026-12-07"})
    assert r.content.decode().count('data-testid="appt-card"') == 18


def test_list_and_filters_with_a_query_cap(
    client_for, front_desk, branch, service, doc, clock, django_assert_max_num_queries
):
    for h in (9, 10, 11, 13, 14):
        book(front_desk, branch, make_member(branch, name=f"客{h}"), service, doc, at(0, h))
    client = client_for(front_desk)
    with django_assert_max_num_queries(15):
        r = client.get(reverse("appointments:list"), {"date": "2026-12-07"})
    assert r.content.decode().count('data-testid="appt-row"') == 5
    r = client.get(reverse("appointments:list"), {"date": "2026-12-07", "q": "客9"})
    assert r.content.decode().count('data-testid="appt-row"') == 1
    r = client.get(reverse("appointments:list"), {"status": "cancelled"})
    assert 'data-testid="appt-row"' not in r.content.decode()


def test_week_view(client_for, front_desk, appt):
    r = client_for(front_desk).get(reverse("appointments:week"), {"date": "2026-12-09"})
    assert r.status_code == 200 and "张三" in r.content.decode()


def test_today_board_query_cap(client_for, front_desk, appt, clock, django_assert_max_num_queries):
    services.appointment_check_in(actor=front_desk, appointment=appt)
    clock.move_to(at(0, 10, 12))
    client = client_for(front_desk)
    with django_assert_max_num_queries(15):
        r = client.get(reverse("appointments:today"))
    html = r.content.decode()
    assert "张三" in html and "12" in html


def test_book_through_the_form(client_for, front_desk, member, service, doc, clock):
    r = client_for(front_desk).post(
        reverse("appointments:book") + f"?member={member.pk}",
        {
            "member": member.pk,
            "service": service.pk,
            "doctor": doc.pk,
            "date": "2026-12-07",
            "time": "10:00",
            "channel": "phone",
        },
    )
    appt = Appointment.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("appointments:detail", args=[appt.pk])


def test_book_a_clash_shows_the_message_and_free_slots(client_for, front_desk, appt, service, doc, branch):
    other = make_member(branch, name="李四")
    r = client_for(front_desk).post(
        reverse("appointments:book"),
        {
            "member": other.pk,
            "service": service.pk,
            "doctor": doc.pk,
            "date": "2026-12-07",
            "time": "10:00",
            "channel": "phone",
        },
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="clash"' in html
    assert re.search(r"start=2026-12-07T10%3A30", html)
    # The free times are the buttons; the message does not list them a second time.
    assert "可约时间" not in html and "Free times" not in html, "free times listed twice"


def test_book_a_new_lead_through_the_form(client_for, front_desk, service, doc, clock):
    r = client_for(front_desk).post(
        reverse("appointments:book"),
        {
            "lead_name": "赵六",
            "lead_phone": "13512345678",
            "service": service.pk,
            "doctor": doc.pk,
            "date": "2026-12-07",
            "time": "11:00",
            "channel": "wechat",
        },
    )
    assert r.status_code == 302
    assert Appointment.objects.get().member.name == "赵六"


def test_member_pick_finds_people(client_for, front_desk, member):
    r = client_for(front_desk).get(reverse("appointments:member_pick"), {"q": "张三"})
    assert f"?member={member.pk}" in r.content.decode()


def test_check_in_confirm_start_and_cancel_by_post(client_for, front_desk, appt):
    client = client_for(front_desk)
    client.post(reverse("appointments:transition", args=[appt.pk, "confirm"]))
    client.post(reverse("appointments:transition", args=[appt.pk, "check-in"]))
    appt.refresh_from_db()
    assert appt.status == Status.ARRIVED
    r = client.post(reverse("appointments:transition", args=[appt.pk, "start"]))
    appt.refresh_from_db()
    assert appt.status == Status.IN_TREATMENT
    assert r["Location"] == reverse("appointments:visit", args=[appt.visit.pk])


def test_cancel_view(client_for, front_desk, appt):
    client_for(front_desk).post(reverse("appointments:cancel", args=[appt.pk]), {"reason": "身体不适"})
    appt.refresh_from_db()
    assert (appt.status, appt.cancel_reason) == (Status.CANCELLED, "身体不适")


def test_move_view(client_for, front_desk, appt, doc):
    r = client_for(front_desk).post(
        reverse("appointments:move", args=[appt.pk]),
        {"doctor": doc.pk, "date": "2026-12-08", "time": "14:00", "reason": ""},
    )
    assert r.status_code == 302
    appt.refresh_from_db()
    assert appt.start == at(1, 14)


def test_detail_shows_reminders(client_for, front_desk, appt):
    r = client_for(front_desk).get(reverse("appointments:detail", args=[appt.pk]))
    assert r.status_code == 200 and 'data-testid="reminders"' in r.content.decode()


def test_walk_in_view(client_for, front_desk, doc, service, member, clock):
    clock.move_to(at(0, 9, 5))
    r = client_for(front_desk).post(
        reverse("appointments:walk_in") + f"?member={member.pk}", {"member": member.pk, "service": service.pk}
    )
    assert r.status_code == 302
    assert Appointment.objects.get().status == Status.ARRIVED


def test_leave_view_lists_and_bulk_moves(client_for, manager, appt, doc, doc2):
    client = client_for(manager)
    r = client.post(
        reverse("appointments:leave"),
        {"doctor": doc.pk, "date": "2026-12-07", "kind": "leave", "reason": "病假"},
    )
    assert r.status_code == 200 and "张三" in r.content.decode()
    r = client.post(
        reverse("appointments:bulk_move"), {"appointments": [appt.pk], "doctor": doc2.pk, "reason": "病假"}
    )
    appt.refresh_from_db()
    assert appt.doctor == doc2


# --- scoping and permissions ---------------------------------------------------------------------


def test_outsider_of_another_branch_gets_404(client_for, outsider, appt):
    client = client_for(outsider)
    assert client.get(reverse("appointments:detail", args=[appt.pk])).status_code == 404
    assert client.post(reverse("appointments:transition", args=[appt.pk, "check-in"])).status_code == 404
    assert client.post(reverse("appointments:cancel", args=[appt.pk]), {"reason": "x"}).status_code == 404


def test_outsider_day_view_does_not_show_the_other_branch(client_for, outsider, appt):
    r = client_for(outsider).get(reverse("appointments:day"), {"date": "2026-12-07"})
    assert "张三" not in r.content.decode()


def test_marketing_role_is_refused(client_for, marketer, appt):
    client = client_for(marketer)
    assert client.get(reverse("appointments:day")).status_code == 403
    assert client.get(reverse("appointments:detail", args=[appt.pk])).status_code == 403


def test_read_only_role_may_look_but_not_post(client_for, customer_service, appt, service, doc):
    client = client_for(customer_service)
    assert client.get(reverse("appointments:detail", args=[appt.pk])).status_code == 200
    assert client.post(reverse("appointments:transition", args=[appt.pk, "check-in"])).status_code == 403
    assert client.post(reverse("appointments:cancel", args=[appt.pk]), {"reason": "x"}).status_code == 403
    # Customer service books from a follow-up task (docs/followups.md), nothing more.
    assert client.get(reverse("appointments:book")).status_code == 200
    appt.refresh_from_db()
    assert appt.status == Status.BOOKED


def test_front_desk_may_not_record_leave(client_for, front_desk):
    assert client_for(front_desk).get(reverse("appointments:leave")).status_code == 403


def test_override_box_only_for_supervisors(client_for, front_desk, manager, clock):
    assert "override" not in client_for(front_desk).get(reverse("appointments:book")).content.decode()
    assert 'name="override"' in client_for(manager).get(reverse("appointments:book")).content.decode()


def test_get_on_a_transition_is_refused(client_for, front_desk, appt):
    assert (
        client_for(front_desk).get(reverse("appointments:transition", args=[appt.pk, "check-in"])).status_code
        == 405
    )


def test_timeline_and_tab_on_the_member_profile(client_for, front_desk, appt, member):
    client = client_for(front_desk)
    r = client.get(reverse("members:detail", args=[member.pk]))
    assert r.status_code == 200
    r = client.get(reverse("members:detail", args=[member.pk]), {"tab": "appointments"})
    html = r.content.decode()
    assert 'data-testid="member-appointments"' in html and "2026-12-07 10:00" in html


def test_admin_shows_a_manager_only_their_branch(client_for, manager, other_branch, branch):
    make_chair(branch, "C1", "静安1号椅")
    make_chair(other_branch, "C1", "浦东1号椅")
    html = client_for(manager).get(reverse("admin:appointments_chair_changelist")).content.decode()
    assert "静安1号椅" in html and "浦东1号椅" not in html


assert MONDAY


def test_pages_have_no_untranslated_text(client_for, front_desk, manager, appt, doc, service, clock):
    from tests.clinic.test_i18n import untranslated, visible_text

    services.appointment_check_in(actor=front_desk, appointment=appt)
    visit = services.appointment_start_treatment(actor=front_desk, appointment=appt).visit
    desk, boss = client_for(front_desk), client_for(manager)
    pages = [
        (desk, reverse("appointments:today")),
        (desk, reverse("appointments:day") + "?date=2026-12-07"),
        (desk, reverse("appointments:week") + "?date=2026-12-07"),
        (desk, reverse("appointments:list")),
        (desk, reverse("appointments:book")),
        (desk, reverse("appointments:walk_in")),
        (desk, reverse("appointments:detail", args=[appt.pk])),
        (desk, reverse("appointments:visit", args=[visit.pk])),
        (boss, reverse("appointments:leave")),
    ]
    for client, url in pages:
        html = client.get(url).content.decode()
        # FDI is the tooth-numbering standard's name, written so in Chinese dental practice too.
        bad = [p for p in untranslated(visible_text(html)) if "FDI" not in p]
        assert bad == [], url


def test_day_view_date_box_shows_the_day_viewed(client_for, front_desk, branch, clock):
    client = client_for(front_desk)
    today = timezone.localdate().isoformat()
    for params in ({}, {"by": "chair"}):
        r = client.get(reverse("appointments:day"), params)
        assert f'name="date" value="{today}"' in r.content.decode(), params
    r = client.get(reverse("appointments:day"), {"date": "2026-12-09"})
    assert 'name="date" value="2026-12-09"' in r.content.decode()
