"""The plan benchmarks/load.py writes for its locust users (``LOAD_PLAN``: logins, ids to
work on), read once per locust process, and what the users report back (``LOAD_SAMPLES``:
every response time by side, and counted outcomes such as a slot taken by someone else).
Users pop their logins and work items from the one shared copy (locust users are greenlets
of one process), so no two users work on the same item."""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict

PLAN: dict = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
TIMES: dict[str, list[float]] = defaultdict(list)
OUTCOMES: Counter = Counter()


def take(key: str, fallback: str | None = None):
    """The next unused item of ``PLAN[key]``; once they are all taken, a random one of
    ``PLAN[fallback]`` (or None)."""
    import random

    if PLAN.get(key):
        return PLAN[key].pop()
    return random.choice(PLAN[fallback]) if fallback and PLAN.get(fallback) else None


# A staff log-in hashes the password (PBKDF2, by design slow: about half a second of CPU) once
# a shift: timed on its own, not in the working mix's p95. The member's SMS-code log-in is
# part of the portal's mix (the issue names it), and cheap (an HMAC).
STAFF_LOGIN = ("staff:login", "staff:login-page", "staff:login-2fa")


def record(name: str, response_time: float) -> None:
    side = name.split(":", 1)[0]
    if name in STAFF_LOGIN:
        TIMES["staff-login"].append(response_time)
    elif side in ("staff", "portal"):
        TIMES[side].append(response_time)


def dump() -> None:
    path = os.environ.get("LOAD_SAMPLES")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"times": TIMES, "outcomes": OUTCOMES}, f)
