"""Test settings: SQLite by default, PostgreSQL and Redis when DATABASE_URL/REDIS_URL are set."""

import os

from .base import *  # noqa: F403
from .base import REDIS_URL, VAR_DIR, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run inline unless a test starts a real worker; on_commit still decides when.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    # Parallel test workers (pytest-xdist) each get their own Redis database: every test
    # clears the cache, which must not wipe a neighbour's rate-limit counters mid-test.
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    if _worker.isdigit() and int(_worker):
        _base, _, _db = REDIS_URL.rpartition("/")
        _db = int(_db) if _db.isdigit() else 0
        CACHES["default"]["LOCATION"] = f"{_base}/{(_db + int(_worker)) % 16}"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Static files straight from the app folders, as runserver does.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
