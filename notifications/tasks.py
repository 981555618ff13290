"""Workers' side of the dispatch path; routed to the "notifications" queue (settings)."""

from celery import shared_task

from . import services


@shared_task(
    bind=True,
    autoretry_for=(services.DeliveryNotYetSent,),
    # 5 s, 10 s, 20 s, 40 s (with jitter): the last retry is due well before the stuck sweep
    # (services.STUCK_AFTER) would queue the delivery again.
    retry_backoff=5,
    retry_backoff_max=240,
    # The delivery's own attempt count (in the database) decides when to give up; Celery's
    # count is only a backstop, so it is never the lower of the two.
    max_retries=services.MAX_ATTEMPTS + 1,
    soft_time_limit=20,
    time_limit=30,
)
def deliver_task(self, delivery_id):
    """Send one delivery; idempotent under retries, duplicated messages and redelivery."""
    return services.delivery_send(delivery_id=delivery_id)


@shared_task(soft_time_limit=50, time_limit=60)
def deliveries_retry_stuck_task():
    """Queue again the deliveries whose task was lost (a dead worker, a broker down at commit)."""
    return services.deliveries_retry_stuck()
