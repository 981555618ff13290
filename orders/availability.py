"""Which start times of a service can be booked, computed in the store's time zone."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.schedule import slot_starts
from o2o.errors import Invalid

from .models import Booking, Order, SlotLoad


@dataclass(frozen=True)
class Slot:
    start: dt.datetime
    end: dt.datetime
    remaining: int


def _bookable_window(service, now):
    earliest = now + dt.timedelta(minutes=service.min_notice_minutes)
    last_day = now.astimezone(service.store.tzinfo).date() + dt.timedelta(days=service.booking_window_days)
    return earliest, last_day


def available_slots(service, date, *, now=None):
    """Slots still bookable on `date`: not past, not inside the minimum notice, within the
    booking window, and not full."""
    now = now or timezone.now()
    earliest, last_day = _bookable_window(service, now)
    if date > last_day or not service.is_active:
        return []
    starts = [s for s in slot_starts(service, date) if s >= earliest]
    if not starts:
        return []
    taken = dict(SlotLoad.objects.filter(service=service, start__in=starts, taken__gt=0).values_list("start", "taken"))
    if taken:
        # DESIGN §9: an unpaid hold past its deadline no longer counts, even before the expiry
        # worker (or the next booking of this slot, which expires it) has cancelled it.
        stale = (
            Booking.objects.filter(
                service=service,
                start__in=list(taken),
                holds_slot=True,
                order__status=Order.Status.PENDING_PAYMENT,
                order__payment_deadline__lte=now,
            )
            .order_by()
            .values("start")
            .annotate(places=Sum("places"))
            .values_list("start", "places")
        )
        for start, places in stale:
            taken[start] -= places
    duration = dt.timedelta(minutes=service.duration_minutes)
    slots = []
    for start in starts:
        remaining = service.capacity - taken.get(start, 0)
        if remaining > 0:
            slots.append(Slot(start=start, end=start + duration, remaining=remaining))
    return slots


def check_bookable_start(service, start, *, now=None):
    """Raise a clear Invalid when `start` is not a start time a consumer may book."""
    now = now or timezone.now()
    if timezone.is_naive(start):
        raise Invalid(_("Give the start time with its time zone."), field="start", code="naive_time")
    if start <= now:
        raise Invalid(_("This time has already passed."), field="start", code="slot_in_past")
    earliest, last_day = _bookable_window(service, now)
    if start < earliest:
        raise Invalid(
            _("Book at least %(minutes)d minutes ahead.") % {"minutes": service.min_notice_minutes},
            field="start",
            code="too_soon",
        )
    local_date = start.astimezone(service.store.tzinfo).date()
    if local_date > last_day:
        raise Invalid(
            _("Bookings open %(days)d days ahead.") % {"days": service.booking_window_days},
            field="start",
            code="beyond_window",
        )
    if start not in slot_starts(service, local_date):
        raise Invalid(_("The store does not offer this time."), field="start", code="not_a_slot")
