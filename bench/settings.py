"""Production settings for benchmark runs, plus the benchmark-only URLs (bench/urls.py).

The benchmark sets DATABASE_URL to its own scratch database; the defaults below only make
the production module importable on a developer machine.
"""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from o2o.settings.prod import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# No collectstatic before a benchmark: the API answers need no static files anyway.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
