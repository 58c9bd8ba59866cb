"""The member-portal users of benchmarks/load.py (run by it through _load_locustfile.py).

Each user is one load member with a phone of their own. It logs in the way a member does —
the phone number, then the six-digit code from the SMS — reading the code where the SMS
is queued: the outbox row (``notifications_outbox``; no SMS leaves the machine, there is no
worker), as the portal tests do. Then it reads its points, coupons, appointments and home
page, books a free online slot (a day ahead or later, so that it can still be cancelled)
and sometimes cancels one, keeping at most two bookings ahead.

A slot taken by someone else between the list and the tap, or a booking the rules refuse,
is the portal answering correctly (409 with the message): counted as an outcome, not an
error.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from locust import HttpUser, between, task

from benchmarks._load_plan import OUTCOMES, PLAN, take

LOGIN_TEMPLATE = "portal.login_code"
LOGIN_CODE_SQL = """SELECT params->>'code' FROM notifications_outbox
 WHERE template_key = %s AND recipient = %s ORDER BY id DESC LIMIT 1"""
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_SLOT = re.compile(r'name="slot" value="(\d+-\d+)"')
_CANCEL = re.compile(r'action="/portal/appointments/(\d+)/cancel/"')
MAX_AHEAD = 2


def latest_login_code(cursor, phone: str) -> str | None:
    """The code of the newest log-in SMS queued for ``phone`` (E.164), through any DB-API
    cursor (psycopg's here, Django's in the tests)."""
    cursor.execute(LOGIN_CODE_SQL, [LOGIN_TEMPLATE, phone])
    row = cursor.fetchone()
    return row[0] if row else None


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    return found.group(1) if found else ""


def slot_keys(html: str) -> list[str]:
    """The free times a booking page offers (``Slot.key``: epoch seconds and doctor)."""
    return _SLOT.findall(html)


def cancellable(html: str) -> list[int]:
    """The bookings the appointments page offers to cancel."""
    return [int(pk) for pk in _CANCEL.findall(html)]


def booking_form(*, service: int, branch: int, day: str, slot: str) -> dict:
    """What the booking page's slot form posts when a free time is tapped."""
    return {"service": service, "branch": branch, "day": day, "slot": slot}


_DB = None


def _cursor():
    global _DB
    if _DB is None or _DB.closed:
        import psycopg

        _DB = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return _DB.cursor()


def login_code(phone: str) -> str | None:
    with _cursor() as cursor:
        return latest_login_code(cursor, phone)


def _path(url: str) -> str:
    return urlsplit(url).path


class PortalUser(HttpUser):
    # A member on their phone: a tap every 3–15 s (reading the points, choosing a time).
    wait_time = between(3.0, 15.0)
    weight = 2

    def on_start(self):
        me = take("portal", "portal_all")
        self.phone = me["phone"] if me else ""
        self.logged_in = bool(self.phone) and self.log_in()

    def log_in(self) -> bool:
        page = self.client.get("/portal/login/", name="portal:login-page")
        local = self.phone.removeprefix("+86")
        with self.client.post(
            "/portal/login/",
            {"phone": local, "csrfmiddlewaretoken": csrf_token(page.text)},
            name="portal:login",
            catch_response=True,
        ) as sent:
            if _path(sent.url) != "/portal/login/code/":
                sent.failure("no code page (rate limited?)")
                return False
        code = login_code(self.phone)
        if not code:
            return False
        with self.client.post(
            "/portal/login/code/",
            {"code": code, "csrfmiddlewaretoken": csrf_token(sent.text)},
            name="portal:login-code",
            catch_response=True,
        ) as done:
            if _path(done.url) != "/portal/":
                done.failure("code not accepted")
                return False
        return True

    def _csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    @task(3)
    def points(self):
        if self.logged_in:
            self.client.get("/portal/points/", name="portal:points")

    @task(2)
    def coupons(self):
        if self.logged_in:
            self.client.get("/portal/coupons/", name="portal:coupons")

    @task(2)
    def appointments(self):
        if self.logged_in:
            self.client.get("/portal/appointments/", name="portal:appointments")

    @task(2)
    def home(self):
        if self.logged_in:
            self.client.get("/portal/", name="portal:home")

    @task(2)
    def booking(self):
        """Book a free time; with two bookings ahead (or sometimes), cancel one instead."""
        if not self.logged_in:
            return
        page = self.client.get("/portal/appointments/", name="portal:appointments")
        ahead = cancellable(page.text)
        if len(ahead) >= MAX_AHEAD or (ahead and random.random() < 0.3):
            self.client.post(
                f"/portal/appointments/{random.choice(ahead)}/cancel/",
                {"csrfmiddlewaretoken": self._csrf()},
                name="portal:cancel",
            )
            return
        today = dt.datetime.now(ZoneInfo(PLAN["time_zone"])).date()
        day = today + dt.timedelta(days=random.randint(1, max(1, PLAN["online_days"])))
        query = {"service": random.choice(PLAN["portal_services"]), "branch": PLAN["branch"]}
        times = self.client.get(
            "/portal/book/", params={**query, "day": day.isoformat()}, name="portal:booking-times"
        )
        slots = slot_keys(times.text)
        if not slots:
            OUTCOMES["portal:no-free-time"] += 1
            return
        with self.client.post(
            "/portal/book/",
            {
                **booking_form(**query, day=day.isoformat(), slot=random.choice(slots)),
                "csrfmiddlewaretoken": self._csrf(),
            },
            name="portal:booking",
            catch_response=True,
        ) as booked:
            if _path(booked.url) == "/portal/appointments/" and booked.status_code == 200:
                OUTCOMES["portal:booked"] += 1
            elif booked.status_code == 409 and 'data-testid="booking-error"' in booked.text:
                booked.success()  # taken meanwhile, or a rule: the page says so
                OUTCOMES["portal:booking-refused"] += 1
            else:
                booked.failure(f"booking: {booked.status_code} {_path(booked.url)}")
