"""The production settings for the load test on loopback: identical except what plain HTTP
on 127.0.0.1 cannot do (Secure cookies, the HTTPS redirect, HSTS) and static files served
without the collected manifest (the load test requests pages, not assets)."""

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
