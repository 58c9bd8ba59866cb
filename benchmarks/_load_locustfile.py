"""The locust users of benchmarks/load.py (run by it; not on its own). Staff users log in
(with the TOTP step for roles that require it), then loop over a front-desk/clinical mix.
Portal users are pluggable: ``PORTAL_USER_CLASSES`` is filled by the member portal's module
when it exists (``portal.load`` with a ``PortalUser`` class), else there are none."""

from __future__ import annotations

import importlib
import json
import os
import random
import re

from locust import HttpUser, between, task

PLAN = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


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
    wait_time = between(0.5, 2.0)
    weight = 1

    def on_start(self):
        self.me = PLAN["staff"].pop() if PLAN["staff"] else random.choice(PLAN["staff_all"])
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


def _portal_classes() -> list:
    try:
        module = importlib.import_module("portal.load")
    except ImportError:
        return []
    return list(getattr(module, "PORTAL_USER_CLASSES", []))


if int(os.environ.get("LOAD_PORTAL_USERS", "0")):
    for _cls in _portal_classes():
        globals()[_cls.__name__] = _cls
