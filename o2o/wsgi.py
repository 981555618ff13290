"""WSGI entry point for gunicorn: `gunicorn o2o.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "o2o.settings.prod")

application = get_wsgi_application()
