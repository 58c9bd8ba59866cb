"""The locust users of benchmarks/load.py (run by it; not on its own). Staff users log in
(with the TOTP step for roles that require it), then loop over a front-desk/clinical mix; the
front desk also runs whole visits (book a load member into a free slot, check in, start,
charge lines, points for a free service, checkout with the member's coupon). Member-portal
users come from benchmarks/_load_portal.py. ``LOAD_STAFF_USERS`` and ``LOAD_PORTAL_USERS``
fix how many of each run; every response time is kept for the per-side p95 (_load_plan)."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from locust import HttpUser, between, events, task

from benchmarks._load_plan import OUTCOMES, PLAN, dump, record, take

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_SLOT_START = re.compile(r"[?&]start=(\d{4}-\d\d-\d\dT\d\d:\d\d)")
_APPOINTMENT = re.compile(r"^/appointments/(\d+)/$")
_VISIT = re.compile(r"^/appointments/visits/(\d+)/$")
_CHECKOUT_KEY = re.compile(r'name="checkout_key" value="([^"]+)"')
_AMOUNT = re.compile(r'name="amount" value="([^"]*)"')


@events.request.add_listener
def _sample(name="", response_time=0.0, **_kwargs):
    record(name, response_time)


@events.quitting.add_listener
def _dump(**_kwargs):
    dump()


def slot_starts(html: str) -> list[str]:
    """``YYYY-MM-DDTHH:MM`` of the free times the booking helper (``/appointments/slots/``)
    links to, in the branch's local time."""
    return _SLOT_START.findall(html)


def checkout_fields(html: str) -> tuple[str, str]:
    """(checkout key, amount due) the visit page's checkout form is prefilled with."""
    key, amount = _CHECKOUT_KEY.search(html), _AMOUNT.search(html)
    return (key.group(1) if key else ""), (amount.group(1) if amount else "")


def booking_form(*, member: int, service: int, doctor: int, start: str) -> dict:
    """The staff booking form's fields for ``start`` (``YYYY-MM-DDTHH:MM``), as a person
    picked, a free time clicked and "Book" pressed leave them."""
    return {
        "member": member,
        "lead_name": "",
        "lead_phone": "",
        "service": service,
        "doctor": doctor,
        "chair": "",
        "date": start[:10],
        "time": start[11:16],
        "end_time": "",
        "channel": "phone",
        "notes": "",
    }


def charge_line_form(item: int) -> dict:
    return {"line-item": item, "line-quantity": "1", "line-teeth": "", "line-doctor": ""}


def checkout_form(*, key: str, amount: str, coupon: str) -> dict:
    """One payment of the amount due (WeChat Pay) with the member's coupon."""
    return {
        "checkout_key": key,
        "method": "wechat_pay",
        "amount": amount,
        "method2": "",
        "amount2": "",
        "coupons": coupon,
    }


def _path(url: str) -> str:
    return urlsplit(url).path


def totp_now(key_hex: str) -> str:
    import hashlib
    import hmac
    import struct
    import time

    counter = int(time.time()) // 30
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


class StaffUser(HttpUser):
    # A member of staff at work: a page or a form every 3–12 s (reading the screen, talking to
    # the patient, typing) — 100 of them are a chain of some 30 branches at a busy hour.
    wait_time = between(3.0, 12.0)
    weight = 1
    fixed_count = int(os.environ.get("LOAD_STAFF_USERS", "0"))

    def on_start(self):
        self.me = take("staff", "staff_all")
        page = self.client.get("/login/", name="staff:login-page")
        token = _CSRF.search(page.text).group(1)
        done = self.client.post(
            "/login/",
            {"username": self.me["username"], "password": PLAN["password"], "csrfmiddlewaretoken": token},
            name="staff:login",
        )
        if "/two-factor/verify/" in done.url:
            token = _CSRF.search(done.text).group(1)
            self.client.post(
                "/clinic/two-factor/verify/",
                {"token": totp_now(self.me["totp_key"]), "csrfmiddlewaretoken": token},
                name="staff:login-2fa",
            )

    def may(self, kind: str) -> bool:
        return kind in PLAN["allowed"][self.me["role"]]

    def _csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    @task(5)
    def search(self):
        q = random.choice(PLAN["queries"])
        self.client.get(f"/members/?q={q}", name="staff:search")

    @task(4)
    def profile(self):
        self.client.get(f"/members/{random.choice(PLAN['members'])}/", name="staff:profile")

    @task(4)
    def day_view(self):
        self.client.get("/appointments/day/", name="staff:day")

    @task(2)
    def booking_form(self):
        if not self.may("book"):
            return
        self.client.get("/appointments/new/", name="staff:booking-form")

    @task(2)
    def check_in(self):
        if not self.may("check_in"):
            return
        if not PLAN["appointments"]:
            return
        pk = PLAN["appointments"].pop()
        self.client.post(
            f"/appointments/{pk}/check-in/",
            {"csrfmiddlewaretoken": self._csrf(), "next": "/appointments/day/"},
            headers={"X-CSRFToken": self._csrf()},
            name="staff:check-in",
        )

    @task(1)
    def booking(self):
        """A booking by phone for a later day (customer service; the front desk books as part
        of its visits)."""
        if not self.may("book") or self.may("visit") or not PLAN["bookable"]:
            return
        self._book(random.choice(PLAN["bookable"]), PLAN["visit_service"], today_first=False)

    @task(2)
    def visit(self):
        """The front desk's whole visit for a load member: book, check in, start, two charge
        lines, a free cleaning for points, checkout with the member's coupon."""
        if not self.may("visit"):
            return
        me = take("desk")
        if me is None:
            OUTCOMES["staff:no-desk-member-left"] += 1
            return
        member = me["member"]
        appt = self._book(member, PLAN["visit_service"], today_first=True)
        if appt is None:
            return
        self._post(f"/appointments/{appt}/check-in/", {}, name="staff:check-in")
        started = self._post(f"/appointments/{appt}/start/", {}, name="staff:start")
        visit = _VISIT.match(_path(started.url))
        if not visit:
            OUTCOMES["staff:visit-not-opened"] += 1
            return
        url = f"/appointments/visits/{visit.group(1)}/"
        for item in (PLAN["extra_service"], PLAN["visit_service"]):
            self._post(url, charge_line_form(item), name="staff:charge-line")
        with self._post(
            f"/loyalty/members/{member}/rewards/redeem/",
            {"item": PLAN["reward"], "quantity": "1"},
            name="staff:redeem",
            catch_response=True,
        ) as redeemed:
            if not re.search(r"/rewards/\d+/$", _path(redeemed.url)):
                redeemed.failure("points not redeemed")
        with self.client.get(
            url, params={"coupons": me["coupon"]}, name="staff:visit", catch_response=True
        ) as page:
            if 'data-testid="coupon-error"' in page.text:
                page.failure("coupon refused")
        key, amount = checkout_fields(page.text)
        with self._post(
            f"{url}checkout/",
            checkout_form(key=key, amount=amount, coupon=me["coupon"]),
            name="staff:checkout",
            catch_response=True,
        ) as paid:
            if not _path(paid.url).endswith("/receipt/"):
                paid.failure("not checked out")
            else:
                OUTCOMES["staff:checked-out"] += 1

    def _post(self, url: str, data: dict, **kwargs):
        return self.client.post(
            url,
            {**data, "csrfmiddlewaretoken": self._csrf()},
            headers={"X-CSRFToken": self._csrf()},
            **kwargs,
        )

    def _book(self, member: int, service: int, *, today_first: bool) -> int | None:
        """Book ``member`` at a free time of a load doctor (today first, else a later day),
        as the booking form does with the free-slot helper; a time taken meanwhile is the
        form saying so, and the next try takes another. The appointment's id, or None."""
        today = dt.datetime.now(ZoneInfo(PLAN["time_zone"])).date()
        for attempt in range(3):
            day = today if today_first and attempt == 0 else today + dt.timedelta(days=random.randint(1, 13))
            doctor = random.choice(PLAN["doctors"])
            query = {"doctor": doctor, "service": service, "date": day.isoformat()}
            starts = slot_starts(
                self.client.get("/appointments/slots/", params=query, name="staff:slots").text
            )
            if not starts:
                continue
            start = random.choice(starts)
            with self._post(
                "/appointments/new/",
                booking_form(member=member, service=service, doctor=doctor, start=start),
                name="staff:booking",
                catch_response=True,
            ) as booked:
                found = _APPOINTMENT.match(_path(booked.url))
                if found:
                    OUTCOMES["staff:booked"] += 1
                    return int(found.group(1))
                if booked.status_code == 200 and _path(booked.url) == "/appointments/new/":
                    booked.success()  # taken meanwhile: the form lists other times
                    OUTCOMES["staff:booking-taken"] += 1
                    continue
                booked.failure(f"booking: {booked.status_code} {_path(booked.url)}")
                return None
        OUTCOMES["staff:no-free-time"] += 1
        return None

    @task(2)
    def followups(self):
        if not self.may("followups"):
            return
        self.client.get("/followups/", name="staff:followups")

    @task(1)
    def complaints(self):
        if not self.may("complaints"):
            return
        self.client.get("/complaints/", name="staff:complaints")

    @task(1)
    def dashboard(self):
        if not self.may("dashboard"):
            return
        self.client.get("/reports/", name="staff:dashboard")

    @task(1)
    def home(self):
        self.client.get("/", name="staff:home")


if int(os.environ.get("LOAD_PORTAL_USERS", "0")):
    from benchmarks._load_portal import PortalUser

    PortalUser.fixed_count = int(os.environ["LOAD_PORTAL_USERS"])
