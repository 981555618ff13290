"""Merchant console pages that move money: no-show (fee kept, rest refunded) and cancel by
the merchant (full refund). The bookings list and check-in live in orders/console_views.py."""

from django.contrib import messages
from django.http import HttpResponseNotAllowed
from django.shortcuts import render
from django.utils.translation import gettext as _

from merchants.access import MANAGERS, member_required
from o2o.errors import DomainError
from orders.console_views import CancelBookingForm, _back_to_day, _booking_or_404
from orders.models import Order

from . import services as payment_services


@member_required(MANAGERS)
def booking_no_show(request, booking_id):
    booking = _booking_or_404(request, booking_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        payment_services.booking_no_show_and_refund(order=booking.order, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        booking.refresh_from_db(fields=["fee_kept"])
        messages.success(
            request,
            _("Marked as a no-show. ¥%(kept)s of the prepaid ¥%(prepaid)s is kept; the rest goes back to the customer.")
            % {"kept": booking.fee_kept, "prepaid": booking.prepaid},
        )
    return _back_to_day(request, booking)


@member_required(MANAGERS)
def booking_cancel(request, booking_id):
    """A confirmation page with the reason to give; the POST cancels and refunds in full."""
    booking = _booking_or_404(request, booking_id)
    form = CancelBookingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payment_services.booking_cancel_by_merchant_and_refund(
                order=booking.order, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            form.add_error("reason" if exc.field == "reason" else None, exc.message)
        else:
            messages.success(
                request,
                _("The booking of %(name)s at %(time)s is cancelled; the prepaid ¥%(prepaid)s goes back in full.")
                % {
                    "name": booking.order.user.masked_name,
                    "time": f"{booking.local_start:%Y-%m-%d %H:%M}",
                    "prepaid": booking.prepaid,
                },
            )
            return _back_to_day(request, booking)
    context = {
        "booking": booking,
        "form": form,
        "back_date": request.GET.get("date") or request.POST.get("date") or booking.local_start.date().isoformat(),
        "back_store": request.GET.get("store") or request.POST.get("store") or "",
        "can_cancel": booking.order.status == Order.Status.CONFIRMED,
    }
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "orders/console/booking_cancel.html", context, status=status)
