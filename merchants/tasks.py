from celery import shared_task

from .catalogue_services import stores_has_deals_refresh


@shared_task(soft_time_limit=120, time_limit=150)
def stores_has_deals_refresh_task():
    """Sale windows open and close by the clock: keep the "has deals" filter true to them."""
    return stores_has_deals_refresh()
