"""Fixtures shared by every test: clean cache, the users factory, browsers and markers."""

import os
import shutil

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import translation

# Playwright runs an event loop in the test thread; Django's ORM calls there are ours.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    require_browser = os.environ.get("REQUIRE_BROWSER") == "1"
    has_browser = shutil.which(CHROMIUM) is not None
    for item in items:
        if "browser" in item.keywords and not has_browser and not require_browser:
            item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)"))


@pytest.fixture(autouse=True)
def _postgres_only(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL")


@pytest.fixture(autouse=True)
def _english():
    """Tests read messages in English; the product's default language is Simplified Chinese,
    and tests of the Chinese text ask for it explicitly."""
    with translation.override("en"):
        yield


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit counters and cached pages must not leak from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # Phone-sized by default: the pages are mobile first.
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}, "locale": "en-US"}


@pytest.fixture
def password():
    return "s3cret-pass-123"


@pytest.fixture
def user_factory(password):
    from tests.factories.accounts import UserFactory

    def make(**kwargs):
        kwargs.setdefault("password", password)
        return UserFactory(**kwargs)

    return make


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient(HTTP_ACCEPT_LANGUAGE="en")
