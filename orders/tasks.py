import datetime as dt

from celery import shared_task
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications import events as notification_events
from notifications.selectors import existing_dedupe_keys
from notifications.services import dedupe_key_for

from . import services
from .models import Booking, Order


@shared_task(soft_time_limit=50, time_limit=60)
def orders_expire_due_task():
    """Cancel unpaid orders past their 15-minute deadline and release their holds."""
    return services.orders_expire_due()


# --- booking reminders (appended by notifications) -------------------------------------------------

REMINDER_LEAD = dt.timedelta(hours=2)


def bookings_remind_due(*, now=None, limit=500):
    """Remind the consumer of each confirmed booking starting within two hours, once.

    The reminder's notification (its dedupe key: event, order, recipient) is the "reminder
    sent" flag, so orders keeps no column for it and a second run, or two at once, send
    nothing new. A booking paid inside the window is skipped: its confirmation just said it.
    """
    now = now or timezone.now()
    due = list(
        Booking.objects.filter(order__status=Order.Status.CONFIRMED, start__gt=now, start__lte=now + REMINDER_LEAD)
        .exclude(order__paid_at__gt=F("start") - REMINDER_LEAD)
        .select_related("order__user", "service", "store__city")
        .order_by("start")[:limit]
    )
    keys = {
        dedupe_key_for(kind="booking_reminder", subject=("orders.order", b.order_id), user_id=b.order.user_id): b
        for b in due
    }
    already = existing_dedupe_keys(keys)
    sent = 0
    for key, booking in keys.items():
        if key in already:
            continue
        with transaction.atomic():
            # Race: the booking may have been cancelled since it was selected.
            order = services.lock_order(booking.order_id)
            if order.status != Order.Status.CONFIRMED:
                continue
            notification_events.booking_reminder(
                consumer=booking.order.user,
                order_id=order.pk,
                store_name=booking.store.name,
                service_name=booking.service.name,
                start=booking.local_start,
                party_size=booking.party_size,
                address=booking.store.address,
                link=order.get_absolute_url(),
            )
            sent += 1
    return sent


@shared_task(soft_time_limit=50, time_limit=60)
def booking_reminders_task():
    """Every 10 minutes: remind consumers of bookings that start within two hours."""
    return bookings_remind_due()
