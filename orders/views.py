"""Consumer pages: checkout for a deal or a booking, my orders, one order."""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from coupons.models import Voucher
from merchants.models import Deal, Service
from o2o.errors import DomainError
from o2o.money import ZERO

from . import selectors, services
from .availability import available_slots
from .forms import BookingCheckoutForm, DealCheckoutForm
from .models import Order

TABS = {
    "all": None,
    "unpaid": [Order.Status.PENDING_PAYMENT],
    "upcoming": [Order.Status.PAID, Order.Status.CONFIRMED],
    "done": [Order.Status.COMPLETED, Order.Status.CHECKED_IN, Order.Status.NO_SHOW],
    "cancelled": [Order.Status.CANCELLED, Order.Status.CANCELLED_BY_CONSUMER, Order.Status.CANCELLED_BY_MERCHANT],
}


def _sellable_deal(deal_id):
    return get_object_or_404(
        Deal.objects.select_related("store__merchant", "store__city").filter(
            store__is_published=True, store__merchant__status="approved"
        ),
        pk=deal_id,
    )


@login_required
def checkout_deal(request, deal_id):
    deal = _sellable_deal(deal_id)
    form = DealCheckoutForm(request.POST or None, initial={"quantity": 1})
    if request.method == "POST" and form.is_valid():
        try:
            order = services.order_create_for_deal(
                user=request.user, deal_id=deal.pk, quantity=form.cleaned_data["quantity"]
            )
        except DomainError as exc:
            form.add_error("quantity" if exc.field == "quantity" else None, exc.message)
        else:
            return redirect(order.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(request, "orders/checkout_deal.html", {"deal": deal, "form": form}, status=status)


@login_required
def checkout_booking(request, service_id):
    service = get_object_or_404(
        Service.objects.select_related("store__merchant", "store__city").filter(
            is_active=True, store__is_published=True, store__merchant__status="approved"
        ),
        pk=service_id,
    )
    initial = {"start": request.GET.get("start"), "party_size": request.GET.get("party_size") or service.min_party}
    form = BookingCheckoutForm(request.POST or None, initial=initial)
    start = parse_datetime(request.POST.get("start") or request.GET.get("start") or "")
    voucher = _own_appointment_voucher(request, service)
    if request.method == "POST" and form.is_valid():
        try:
            if voucher is not None:
                order = services.order_create_for_appointment(
                    user=request.user,
                    voucher_id=voucher.pk,
                    start=form.cleaned_data["start"],
                    party_size=form.cleaned_data["party_size"],
                    note=form.cleaned_data["note"],
                )
            else:
                order = services.order_create_for_booking(
                    user=request.user,
                    service_id=service.pk,
                    start=form.cleaned_data["start"],
                    party_size=form.cleaned_data["party_size"],
                    note=form.cleaned_data["note"],
                )
        except DomainError as exc:
            form.add_error("party_size" if exc.field == "party_size" else None, exc.message)
        else:
            return redirect(order.get_absolute_url())
    party = form.data.get("party_size") if form.is_bound else initial["party_size"]
    try:
        party = max(service.min_party, min(int(party), service.max_party))
    except (TypeError, ValueError):
        party = service.min_party
    context = {
        "service": service,
        "form": form,
        "start": start,
        "end": start + dt.timedelta(minutes=service.duration_minutes) if start else None,
        "party": party,
        "prepaid": ZERO if voucher else service.prepaid_amount_for(party),
        "price": service.price_for(party),
        "terms": service.terms,
        "voucher": voucher,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "orders/checkout_booking.html", context, status=status)


def _own_appointment_voucher(request, service):
    """The signed-in consumer's unused deal voucher named in `?voucher=`, if it books `service`."""
    raw = request.POST.get("voucher") or request.GET.get("voucher") or ""
    if not raw.isdigit() or not request.user.is_authenticated:
        return None
    return Voucher.objects.filter(
        pk=int(raw), user=request.user, status=Voucher.Status.VALID, deal__appointment_service=service
    ).first()


@login_required
def my_orders(request):
    tab = request.GET.get("tab", "all")
    statuses = TABS.get(tab)
    orders = selectors.orders_for_user(request.user)
    if statuses:
        orders = orders.filter(status__in=statuses)
    page = Paginator(orders, 10).get_page(request.GET.get("page"))
    return render(request, "orders/my_orders.html", {"page": page, "tab": tab, "tabs": TABS})


@login_required
def order_detail(request, number):
    order = get_object_or_404(
        selectors.orders_for_user(request.user).prefetch_related("events", "refunds"), number=number
    )
    if order.is_expired_hold:
        # Checked on read too: a late expiry worker never leaves a dead order looking payable.
        services.order_expire(order_id=order.pk)
        return redirect(order.get_absolute_url())
    context = {"order": order, "now": timezone.now()}
    if order.kind == Order.Kind.BOOKING:
        booking = order.booking
        free, fee = services.cancellation_terms(booking)
        context.update(booking=booking, cancel_free=free, cancel_fee=fee, refund_if_cancelled=booking.prepaid - fee)
    return render(request, "orders/order_detail.html", context)


def book(request, service_id):
    """The booking widget: a strip of dates, the party size and the free slots of the chosen day,
    each a link to the checkout. Works without JavaScript."""
    service = get_object_or_404(
        Service.objects.select_related("store__merchant", "store__city")
        .prefetch_related("schedules", "date_rules", "store__closed_dates")
        .filter(is_active=True, store__is_published=True, store__merchant__status="approved"),
        pk=service_id,
    )
    today = timezone.now().astimezone(service.store.tzinfo).date()
    days = [today + dt.timedelta(days=i) for i in range(min(service.booking_window_days, 14) + 1)]
    chosen = parse_date(request.GET.get("date") or "") or today
    if chosen not in days:
        chosen = today
    try:
        party = int(request.GET.get("party_size") or service.min_party)
    except ValueError:
        party = service.min_party
    party = max(service.min_party, min(party, service.max_party))
    places = service.places_for(party)
    slots = [slot for slot in available_slots(service, chosen) if slot.remaining >= places]
    voucher_id = request.GET.get("voucher", "")
    context = {
        "service": service,
        "days": days,
        "chosen": chosen,
        "party": party,
        "parties": range(service.min_party, service.max_party + 1),
        "slots": slots,
        "prepaid": service.prepaid_amount_for(party),
        "terms": service.terms,
        "voucher_id": voucher_id if voucher_id.isdigit() else "",
    }
    return render(request, "orders/book.html", context)
