import pytest

from .fakes import FlakySmsBackend, RecordingSmsBackend


@pytest.fixture
def sms(settings):
    """Every SMS goes to RecordingSmsBackend.sent."""
    settings.SMS_BACKEND = "tests.notifications.fakes.RecordingSmsBackend"
    RecordingSmsBackend.reset()
    yield RecordingSmsBackend
    RecordingSmsBackend.reset()


@pytest.fixture
def flaky_sms(settings):
    """`flaky_sms.reset(failures=n)`: the provider fails n times, then accepts.

    Celery's eager mode runs a task's retries inline only when it does not propagate errors
    (with propagation on, the first Retry escapes); a worker would run them after backoff.
    """
    from o2o.celery import app

    propagates, app.conf.task_eager_propagates = app.conf.task_eager_propagates, False
    settings.SMS_BACKEND = "tests.notifications.fakes.FlakySmsBackend"
    FlakySmsBackend.reset()
    yield FlakySmsBackend
    FlakySmsBackend.reset()
    app.conf.task_eager_propagates = propagates


@pytest.fixture
def zh_user(user_factory):
    return user_factory(language="zh-hans", email="zh@example.com", phone="13800000001")


@pytest.fixture
def en_user(user_factory):
    return user_factory(language="en", email="en@example.com", phone="13800000002")


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what was queued for after COMMIT at the end of the block, as a real commit would
    (tasks run inline: CELERY_TASK_ALWAYS_EAGER in the test settings)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
