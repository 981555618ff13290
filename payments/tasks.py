import datetime as dt
import random

from celery import shared_task
from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from coupons.models import Voucher
from notifications import events as notification_events
from notifications.selectors import existing_dedupe_keys
from notifications.services import dedupe_key_for
from orders.models import Order

from . import services
from .gateways.base import GatewayError


@shared_task(
    bind=True,
    autoretry_for=(GatewayError,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=12,
    soft_time_limit=30,
    time_limit=45,
)
def refund_execute_task(self, refund_id):
    """Send one refund to the gateway; retried with backoff, and swept up by the periodic
    retry if every attempt fails."""
    services.refund_execute(refund_id=refund_id)


@shared_task(soft_time_limit=50, time_limit=60)
def refunds_retry_stuck_task():
    return services.refunds_retry_stuck()


@shared_task(soft_time_limit=240, time_limit=300)
def vouchers_expire_and_refund_task():
    return services.vouchers_expire_and_refund()


@shared_task(
    bind=True,
    autoretry_for=(ConnectionError, OSError),
    retry_backoff=2,
    max_retries=8,
    soft_time_limit=20,
    time_limit=30,
)
def sandbox_deliver_notification_task(self, charge_id, kind):
    """The sandbox gateway posting its signed notification to the platform."""
    from .gateways.sandbox_delivery import deliver

    deliver(charge_id=charge_id, kind=kind)


def sandbox_schedule_notifications(charge, kind):
    """Like an outside gateway: deliver once now, and sometimes again, sometimes late."""
    sandbox_deliver_notification_task.delay(charge.pk, kind)
    if random.random() < settings.SANDBOX_DUPLICATE_RATE:
        delay = random.uniform(0, settings.SANDBOX_MAX_DELAY_SECONDS)
        sandbox_deliver_notification_task.apply_async((charge.pk, kind), countdown=delay)


# --- voucher expiry reminders (appended by notifications) -------------------------------------------

EXPIRY_NOTICE = dt.timedelta(days=3)


def vouchers_remind_expiring(*, now=None, limit=500):
    """Tell each consumer, once per order, that unused deal vouchers expire within three days.

    The notification's dedupe key (event, order, recipient) is the "reminded" flag: a second
    run, or two at once, send nothing new. Returns how many orders were reminded.
    """
    now = now or timezone.now()
    expiring = (
        Voucher.objects.filter(
            kind=Voucher.Kind.DEAL,
            status=Voucher.Status.VALID,
            valid_until__gt=now,
            valid_until__lte=now + EXPIRY_NOTICE,
        )
        .values("order_id", "user_id")
        .annotate(count=Count("pk"), valid_until=Min("valid_until"), title=Min("title"))
        .order_by("valid_until")[:limit]
    )
    groups = {
        dedupe_key_for(kind="voucher_expiring", subject=("orders.order", row["order_id"]), user_id=row["user_id"]): row
        for row in expiring
    }
    already = existing_dedupe_keys(groups)
    todo = {key: row for key, row in groups.items() if key not in already}
    orders = Order.objects.select_related("user", "store__city").in_bulk([row["order_id"] for row in todo.values()])
    for row in todo.values():
        order = orders[row["order_id"]]
        notification_events.voucher_expiring(
            consumer=order.user,
            order_id=order.pk,
            title=row["title"],
            count=row["count"],
            valid_until=row["valid_until"].astimezone(order.store.tzinfo),
            store_name=order.store.name,
            link=order.get_absolute_url(),
        )
    return len(todo)


@shared_task(soft_time_limit=120, time_limit=150)
def voucher_expiry_reminders_task():
    """Hourly: remind consumers of unused vouchers that expire within three days."""
    return vouchers_remind_expiring()
