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
