from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


@shared_task(soft_time_limit=5, time_limit=10)
def heartbeat_task():
    """Record that beat and a worker are alive; /healthz and operators can read it."""
    cache.set("o2o:heartbeat", timezone.now().isoformat(), timeout=None)
