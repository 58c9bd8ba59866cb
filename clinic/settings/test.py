"""pytest: real PostgreSQL (DATABASE_URL, or the embedded server), fast hashing."""

from .base import *

DEBUG = False
SECRET_KEY = "test-only-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOP"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
CELERY_TASK_ALWAYS_EAGER = False
WHITENOISE_USE_FINDERS = True
# Tests change data and read the reports again at once: no shared cache of live report figures.
REPORTS_LIVE_CACHE_SECONDS = 0

# The providers' push URLs answer only with this secret (clinic/notifications/inbound.py).
NOTIFICATIONS_INBOUND_TOKEN = "inbound-test-token"

# Export jobs' files (reports.export_jobs) go to a scratch directory, not the checkout's var/.
import tempfile as _tempfile  # noqa: E402

REPORTS_EXPORT_DIR = Path(_tempfile.gettempdir()) / "clinic-test-exports"

# pytest-xdist: each worker its own Redis database (the broker's queues) and export directory;
# pytest-django gives each its own test database (test_<name>_gw<n>).
import os as _os  # noqa: E402
import re as _re  # noqa: E402

_WORKER = _os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw"):
    _n = int(_WORKER[2:])
    REPORTS_EXPORT_DIR = REPORTS_EXPORT_DIR.with_name(f"{REPORTS_EXPORT_DIR.name}-{_WORKER}")
    if REDIS_URL:
        _db = _re.search(r"/(\d+)$", REDIS_URL)
        _base = int(_db.group(1)) if _db else 0
        REDIS_URL = _re.sub(r"(/\d+)?$", f"/{(_base + 1 + _n) % 16}", REDIS_URL, count=1)
        CELERY_BROKER_URL = REDIS_URL
