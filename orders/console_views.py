"""Merchant console pages of bookings (/merchant/bookings/) and cancellation policies.

Every role sees the bookings of the stores it works at (`member_stores`) and may check guests
in; owners and managers also mark no-shows and cancel. A booking of another merchant, or of a
store the member does not work at, is a 404 — the same answer as an id that does not exist.

No-show and cancellation move money (the no-show fee is kept, the rest refunded; a merchant's
cancellation refunds everything), so their pages live in payments/console_views.py, the app
that runs money flows; they reuse this module's helpers.
"""

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from merchants.access import EVERYONE, MANAGERS, member_required, member_stores
from merchants.catalogue_forms import percent, policy_terms_text
from merchants.catalogue_models import CANCELLATION_TERMS, CancellationPolicy
from merchants.models import Service
from o2o.errors import DomainError
from o2o.money import share

from . import selectors
from . import services as order_services
from .models import Booking, Order

# Bookings that hold a place (or did: a no-show) are drawn on the day's calendar; cancelled
# ones are listed below it only.
ON_CALENDAR = (Order.Status.PENDING_PAYMENT, Order.Status.CONFIRMED, Order.Status.CHECKED_IN, Order.Status.COMPLETED)
EXAMPLE_PREPAID = Decimal("100.00")


class BookingDayForm(forms.Form):
    date = forms.DateField(label=gettext_lazy("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    store = forms.ModelChoiceField(
        label=gettext_lazy("Store"), queryset=None, required=False, empty_label=gettext_lazy("All my stores")
    )

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores


class CancelBookingForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for the customer"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Sent to the customer, e.g. “Our kitchen is closed for repairs that evening.”"),
    )


def _scoped_stores(request):
    return member_stores(request.member).filter(merchant=request.merchant).select_related("city").order_by("name", "pk")


def _booking_or_404(request, booking_id):
    queryset = Booking.objects.filter(store__in=_scoped_stores(request)).select_related(
        "order__user", "service", "store__city"
    )
    return get_object_or_404(queryset, pk=booking_id)


def _store_today(store):
    return timezone.now().astimezone(store.tzinfo).date()


def _back_to_day(request, booking):
    """The bookings page the action came from: its day and store filter, read from the POST."""
    query = {}
    day = _parse_date_or_none(request.POST.get("date"))
    query["date"] = (day or booking.local_start.date()).isoformat()
    store = request.POST.get("store", "")
    if store.isdigit():
        query["store"] = store
    return redirect(f"{reverse('console:bookings')}?{urlencode(query)}")


def _parse_date_or_none(value):
    # parse_date returns None for a malformed date and raises ValueError for an impossible one (02-30).
    try:
        return parse_date(value or "")
    except ValueError:
        return None


def _bookings_on(merchant, stores, day):
    """The day's bookings of `stores`, each store's day taken in its own time zone."""
    return list(selectors.bookings_on_local_day(merchant, stores, day))


def _day_calendar(bookings):
    """Hour rows × service columns; each cell lists the bookings that start in that hour."""
    live = [b for b in bookings if b.order.status in ON_CALENDAR or b.order.status == Order.Status.NO_SHOW]
    if not live:
        return None
    services = sorted({b.service for b in live}, key=lambda s: (s.store_id, s.name, s.pk))
    column = {service.pk: index for index, service in enumerate(services)}
    hours = sorted({b.local_start.hour for b in live})
    rows = {hour: [[] for _service in services] for hour in range(hours[0], hours[-1] + 1)}
    for booking in live:
        rows[booking.local_start.hour][column[booking.service_id]].append(booking)
    return {
        "services": services,
        "rows": [{"hour": f"{hour:02d}:00", "cells": cells} for hour, cells in rows.items()],
    }


def _decorate(booking, *, member, now):
    """What the member may do with the booking now, for the buttons."""
    status = booking.order.status
    is_manager = member.role in MANAGERS
    booking.local_day = booking.local_start.date()
    booking.local_end = booking.end.astimezone(booking.store.tzinfo)
    booking.can_check_in = status == Order.Status.CONFIRMED and booking.local_day <= _store_today(booking.store)
    booking.can_no_show = is_manager and status == Order.Status.CONFIRMED and now >= booking.start
    booking.can_cancel = is_manager and status == Order.Status.CONFIRMED and now < booking.end
    booking.pay_in_store = max(booking.price - booking.prepaid, Decimal("0.00"))
    return booking


@member_required(EVERYONE)
def bookings(request):
    stores = _scoped_stores(request)
    form = BookingDayForm(request.GET or None, stores=stores)
    chosen_store, day = None, None
    if form.is_bound and form.is_valid():
        chosen_store, day = form.cleaned_data["store"], form.cleaned_data["date"]
    shown_stores = [chosen_store] if chosen_store else list(stores)
    # "Today" is the store's day: a late-night shift in Urumqi is not yet tomorrow in Shanghai.
    zone = shown_stores[0].tzinfo if shown_stores else timezone.get_current_timezone()
    today = timezone.now().astimezone(zone).date()
    day = day or today
    now = timezone.now()
    day_bookings = [
        _decorate(b, member=request.member, now=now) for b in _bookings_on(request.merchant, shown_stores, day)
    ]
    live = [b for b in day_bookings if b.order.status in ON_CALENDAR]
    context = {
        "form": form,
        "stores": stores,
        "chosen_store": chosen_store,
        "day": day,
        "today": today,
        "previous_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "bookings": day_bookings,
        "calendar": _day_calendar(day_bookings),
        "counts": {
            "bookings": len(live),
            "guests": sum(b.party_size for b in live),
            "checked_in": sum(
                1 for b in day_bookings if b.order.status in (Order.Status.CHECKED_IN, Order.Status.COMPLETED)
            ),
        },
        "is_manager": request.member.role in MANAGERS,
    }
    return render(request, "orders/console/bookings.html", context, status=400 if form.errors else 200)


@member_required(EVERYONE)
def booking_check_in(request, booking_id):
    booking = _booking_or_404(request, booking_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    # A guest is checked in when they arrive, so not before the day of the booking: an early
    # check-in would open reviews and settlement for a visit that has not happened.
    if booking.local_start.date() > _store_today(booking.store):
        messages.error(
            request,
            _("This booking is for %(date)s; check the guests in when they arrive that day.")
            % {"date": booking.local_start.date().isoformat()},
        )
        return _back_to_day(request, booking)
    try:
        order_services.booking_check_in(order=booking.order, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(name)s (party of %(party)d, %(time)s %(service)s) is checked in.")
            % {
                "name": booking.order.user.masked_name,
                "party": booking.party_size,
                "time": f"{booking.local_start:%H:%M}",
                "service": booking.service.name,
            },
        )
    return _back_to_day(request, booking)


@member_required(MANAGERS)
def policies(request):
    """Each preset's cut-off and fees as this merchant gets them, and which services use it."""
    rate = request.merchant.effective_commission_rate
    services_by_policy = {}
    for service in (
        Service.objects.filter(store__in=_scoped_stores(request))
        .select_related("store")
        .order_by("store__name", "name")
    ):
        services_by_policy.setdefault(service.cancellation_policy, []).append(service)
    rows = []
    for policy in CancellationPolicy:
        free_hours, late_rate, no_show_rate = CANCELLATION_TERMS[policy]
        late_fee, no_show_fee = share(EXAMPLE_PREPAID, late_rate), share(EXAMPLE_PREPAID, no_show_rate)
        rows.append(
            {
                "policy": policy,
                "words": policy_terms_text(policy),
                "free_hours": free_hours,
                "late_rate": percent(late_rate),
                "no_show_rate": percent(no_show_rate),
                # What the merchant is paid of a ¥100 prepayment: the fee less the platform's commission.
                "late_net": late_fee - share(late_fee, rate),
                "no_show_net": no_show_fee - share(no_show_fee, rate),
                "services": services_by_policy.get(policy.value, []),
            }
        )
    context = {"rows": rows, "commission": percent(rate), "example": EXAMPLE_PREPAID}
    return render(request, "orders/console/policies.html", context)
