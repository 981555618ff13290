from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from o2o.errors import DomainError
from orders import services as order_services
from orders.models import Order

from . import services
from .gateways.sandbox import sandbox_complete_charge
from .models import Payment, SandboxCharge
from .tasks import sandbox_schedule_notifications


@login_required
@require_POST
def pay(request, number):
    """Start paying an order and send the payer to the gateway's page."""
    order = get_object_or_404(Order, number=number, user=request.user)
    try:
        _payment, url = services.payment_start(order=order, user=request.user, build_url=request.build_absolute_uri)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(order.get_absolute_url())
    return redirect(url)


@login_required
def payment_return(request, reference):
    """Where the gateway sends the payer back: the result in plain words."""
    payment = get_object_or_404(Payment.objects.select_related("order"), reference=reference, order__user=request.user)
    payment = services.payment_sync(payment=payment)
    return render(request, "payments/return.html", {"payment": payment, "order": payment.order})


@csrf_exempt
@require_POST
def notify(request, gateway):
    """The gateway's server-to-server notification. 2xx means "received, stop sending"."""
    try:
        outcome = services.notification_receive(gateway_name=gateway, body=request.body, headers=request.headers)
    except KeyError:
        return JsonResponse({"detail": "unknown gateway"}, status=404)
    except DomainError as exc:
        return JsonResponse({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    return JsonResponse({"status": outcome})


def sandbox_page(request, transaction_id):
    """The sandbox gateway's hosted page: the amount and two buttons."""
    charge = get_object_or_404(SandboxCharge, transaction_id=transaction_id)
    if request.method == "POST":
        outcome = request.POST.get("outcome")
        if outcome not in ("succeed", "fail"):
            return render(
                request, "payments/sandbox_page.html", {"charge": charge, "error": _("Choose an outcome.")}, status=400
            )
        was_open = charge.status == "open"
        charge = sandbox_complete_charge(charge, succeed=outcome == "succeed")
        if was_open:
            kind = "payment.succeeded" if charge.status == "paid" else "payment.failed"
            sandbox_schedule_notifications(charge, kind)
        return redirect(charge.return_url)
    return render(request, "payments/sandbox_page.html", {"charge": charge})


@login_required
@require_POST
def cancel(request, number):
    """Cancel an unpaid order, or a booking under its policy (refunding what is due)."""
    order = get_object_or_404(Order, number=number, user=request.user)
    try:
        if order.kind == Order.Kind.BOOKING:
            services.booking_cancel_and_refund(order=order, user=request.user)
        else:
            order_services.order_cancel_unpaid(order=order, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The order was cancelled."))
    return redirect(order.get_absolute_url())


@login_required
@require_POST
def refund(request, number):
    """Refund the vouchers ticked on the order page."""
    order = get_object_or_404(Order, number=number, user=request.user)
    raw_ids = request.POST.getlist("vouchers")
    if not raw_ids:
        messages.error(request, _("Tick the vouchers to refund."))
        return redirect(order.get_absolute_url())
    try:
        voucher_ids = [int(v) for v in raw_ids]
        made = services.vouchers_refund(order=order, user=request.user, voucher_ids=voucher_ids)
    except ValueError:
        messages.error(request, _("Tick the vouchers to refund."))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("¥%(amount)s is on its way back to your payment method.") % {"amount": made.amount if made else 0},
        )
    return redirect(order.get_absolute_url())
