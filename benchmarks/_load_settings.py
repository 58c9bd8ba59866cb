"""The production settings for the load test on loopback: identical except what plain HTTP
on 127.0.0.1 cannot do (Secure cookies, the HTTPS redirect, HSTS), static files served
without the collected manifest (the load test requests pages, not assets), and the portal's
per-IP cap on SMS codes (every simulated member logs in from 127.0.0.1; the per-phone limits
stay as they are, and each load member has a phone of their own)."""

from clinic.settings.production import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
LANGUAGE_COOKIE_SECURE = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
PORTAL_CODE_PER_IP_HOUR = 1_000_000
