"""Reads of orders shaped for pages and the API."""

import datetime as dt

from django.db.models import Prefetch, Q

from .models import Booking, Order, OrderItem


def orders_for_user(user):
    return (
        Order.objects.filter(user=user)
        .select_related("store__city", "merchant", "booking__service")
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.select_related("deal")), "vouchers")
    )


def bookings_for_merchant(merchant, *, store_ids=None, day=None, tz=None):
    """Bookings of a merchant's stores, optionally on one local day."""
    bookings = Booking.objects.filter(store__merchant=merchant).select_related("order__user", "service", "store__city")
    if store_ids is not None:
        bookings = bookings.filter(store_id__in=store_ids)
    if day is not None:
        start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
        bookings = bookings.filter(start__gte=start, start__lt=start + dt.timedelta(days=1))
    return bookings.exclude(order__status=Order.Status.CANCELLED).order_by("start", "pk")


def bookings_on_local_day(merchant, stores, day):
    """The bookings of `stores` on `day`, each store's day taken in its own time zone: one
    query whatever the number of zones."""
    by_zone = {}
    for store in stores:
        by_zone.setdefault(store.city.timezone, []).append(store)
    on_day = Q(pk__in=[])
    for zone_stores in by_zone.values():
        start = dt.datetime.combine(day, dt.time.min, tzinfo=zone_stores[0].tzinfo)
        on_day |= Q(store_id__in=[s.pk for s in zone_stores], start__gte=start, start__lt=start + dt.timedelta(days=1))
    return bookings_for_merchant(merchant).filter(on_day)
