"""The settings of the web server and Celery workers in the fault drills (benchmarks/drills.py):
the load test's production settings (benchmarks/_load_settings.py, plain HTTP on loopback)
with the drills' message provider, and the sender's timings shortened so a drill takes
seconds instead of the production quarter of an hour:

- ``NOTIFICATIONS_SENDING_TIMEOUT_SECONDS`` (production 15 min): how long a row may stay in
  ``sending`` before it is taken for a dead worker's and looked up at the provider;
- no quiet hours (the drills run at any time of day).
"""

import os

from benchmarks._load_settings import *  # noqa: F403

_BACKEND = "benchmarks._drill_backend.JournalBackend"
NOTIFICATIONS_BACKENDS = {"sms": _BACKEND, "wechat": _BACKEND, "email": _BACKEND}
NOTIFICATIONS_QUIET_HOURS = None
NOTIFICATIONS_SENDING_TIMEOUT_SECONDS = int(os.environ.get("DRILL_SENDING_TIMEOUT", "5"))
NOTIFICATIONS_RETRY_BASE_SECONDS = 1
NOTIFICATIONS_BATCH_SIZE = int(os.environ.get("DRILL_BATCH_SIZE", "100"))
