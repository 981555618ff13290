"""Money flows: taking a payment, recording the gateway's word, refunds and their retries.

This app sits above orders and coupons: its services run the flows that touch all three
(a payment makes an order paid and issues its vouchers; a refund marks vouchers refunded
and gives units back) and call down into them.
"""

import datetime as dt
import logging
import secrets
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.models import Voucher
from coupons.services import lock_vouchers, voucher_mark_expired, voucher_mark_refunded, vouchers_issue_for_order
from merchants.models import MerchantMember
from notifications import events as notification_events
from o2o.errors import Conflict, DomainError, Gone, Invalid, NotFound
from orders import services as order_services
from orders.models import Order

from . import ledger
from .gateways.base import BadNotification, GatewayError, get_gateway
from .models import GatewayEvent, Payment, Refund

logger = logging.getLogger(__name__)
ZERO = Decimal("0.00")


# --- paying ----------------------------------------------------------------------------------


def _new_reference():
    return "P" + timezone.now().strftime("%y%m%d") + secrets.token_hex(6).upper()


def payment_start(*, order, user, build_url, now=None):
    """Start paying an order: returns (payment or None, URL to send the payer to).

    `build_url(path)` makes an absolute URL (the gateway calls back on it). A zero total is
    paid at once without a gateway.
    """
    now = now or timezone.now()
    if order.user_id != user.pk:
        raise NotFound(_("No such order."))
    _check_payable(order)
    if order.payment_deadline and order.payment_deadline <= now:
        order_services.order_expire(order_id=order.pk, now=now)
        raise Gone(_("The 15 minutes to pay have passed; the order was cancelled."), code="payment_expired")
    if order.total == ZERO:
        order_paid_without_gateway(order=order, now=now)
        return None, order.get_absolute_url()
    gateway = get_gateway()
    with transaction.atomic():
        order = order_services.lock_order(order.pk)
        # Race: the order may have been paid or expired since it was read above; a payment
        # started for a paid order would take the payer's money a second time.
        _check_payable(order)
        payment = order.payments.filter(status=Payment.Status.CREATED, gateway=gateway.name).first()
        if payment is None:
            payment = Payment.objects.create(
                reference=_new_reference(),
                order=order,
                amount=order.total,
                currency=order.currency,
                gateway=gateway.name,
                created_at=now,
            )
    pay_url = gateway.create_payment(
        payment,
        return_url=build_url(reverse("payments:return", args=[payment.reference])),
        notify_url=build_url(reverse("payments:notify", args=[gateway.name])),
    )
    return payment, pay_url


def _check_payable(order):
    if order.status == Order.Status.PENDING_PAYMENT:
        return
    if order.status == Order.Status.CANCELLED and order.cancel_reason == "expired":
        raise Gone(_("The 15 minutes to pay have passed; the order was cancelled."), code="payment_expired")
    raise Conflict(_("This order is not waiting for payment."), code="not_pending")


@transaction.atomic
def order_paid_without_gateway(*, order, now=None):
    """A total of zero (fully discounted, or a booking without prepayment)."""
    if order_services.order_mark_paid(order=order, now=now):
        vouchers_issue_for_order(order=Order.objects.get(pk=order.pk), now=now)
        _notify_order_paid(order.pk)


def notification_receive(*, gateway_name, body, headers, now=None):
    """Handle a gateway notification. Returns "processed" or "duplicate"; raises Invalid
    (a 4xx, nothing changed) for anything that must not be trusted."""
    gateway = get_gateway(gateway_name)
    try:
        note = gateway.parse_notification(body, headers)
    except BadNotification as exc:
        logger.warning("refused %s notification: %s", gateway_name, exc)
        raise Invalid(_("Notification refused: %(why)s") % {"why": exc}, code="bad_notification") from exc
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).filter(reference=note.reference).first()
        if payment is None or payment.gateway != gateway.name:
            raise NotFound(_("Unknown payment."), code="unknown_payment")
        if note.amount != payment.amount or note.currency != payment.currency:
            raise Invalid(_("Amount does not match the payment."), code="wrong_amount")
        _event, created = GatewayEvent.objects.get_or_create(
            gateway=gateway.name,
            event_id=note.event_id,
            defaults={
                "payment": payment,
                "kind": note.kind,
                "payload": note.payload,
                "received_at": now or timezone.now(),
            },
        )
        if not created:
            return "duplicate"
        if note.kind == "payment.succeeded":
            _payment_succeeded(payment, transaction_id=note.transaction_id, now=now)
        elif note.kind == "payment.failed" and payment.status == Payment.Status.CREATED:
            payment.status, payment.failed_reason = Payment.Status.FAILED, "declined by the payer's bank"
            payment.save(update_fields=["status", "failed_reason"])
        return "processed"


def payment_sync(*, payment, now=None):
    """Ask the gateway about a payment the notification of which has not arrived yet (the
    payer is back on the result page first). Same effect as the notification."""
    if payment.status != Payment.Status.CREATED:
        return payment
    state = get_gateway(payment.gateway).query(payment)
    if state.status == "paid" and state.amount == payment.amount:
        with transaction.atomic():
            locked = Payment.objects.select_for_update(of=("self",)).get(pk=payment.pk)
            _payment_succeeded(locked, transaction_id=state.transaction_id, now=now)
    elif state.status == "failed":
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(
            status=Payment.Status.FAILED, failed_reason="declined"
        )
    payment.refresh_from_db()
    return payment


def _payment_succeeded(payment, *, transaction_id, now=None):
    """The money arrived (payment row locked). Record it once; pay the order, or refund a
    payment that came after the order expired."""
    now = now or timezone.now()
    if payment.status == Payment.Status.SUCCEEDED:
        return  # the same money, told again
    payment.status, payment.succeeded_at, payment.gateway_transaction = Payment.Status.SUCCEEDED, now, transaction_id
    payment.save(update_fields=["status", "succeeded_at", "gateway_transaction"])
    ledger.post_payment(payment)
    order = payment.order
    if order_services.order_mark_paid(order=order, now=now):
        vouchers_issue_for_order(order=Order.objects.get(pk=order.pk), now=now)
        _notify_order_paid(order.pk)
    else:
        _refund_create(
            payment=payment,
            order=order,
            amount=payment.amount,
            reason=Refund.Reason.LATE_PAYMENT,
            note=_("The payment arrived after the order was cancelled."),
            now=now,
        )


# --- refunds ---------------------------------------------------------------------------------------


def _paid_payment(order):
    payment = order.payments.filter(status=Payment.Status.SUCCEEDED).first()
    if payment is None:
        raise Conflict(_("This order has no payment to refund."), code="not_paid")
    return payment


def refundable_amount(payment):
    refunded = payment.refunds.aggregate(total=Sum("amount"))["total"] or ZERO
    return payment.amount - refunded


def _refund_create(*, payment, order, amount, reason, note="", actor=None, now=None, capped=False):
    """Record a refund (inside the caller's transaction) and send it after commit.

    `capped`: what the consumer is owed (unused vouchers, a cancelled booking) may be more
    than is left of the payment when platform finance already gave part of it back; they
    then get the rest, never more. Otherwise asking for more than is left is a Conflict.
    """
    left = refundable_amount(payment)
    if capped and amount > left:
        amount = left
        note = " ".join([str(note), _("Capped at what was left of the payment after earlier refunds.")]).strip()
    if amount <= ZERO:
        return None
    if amount > left:
        raise Conflict(_("More than what is left to refund."), code="over_refund")
    refund = Refund.objects.create(
        payment=payment,
        order=order,
        amount=amount,
        reason=reason,
        note=str(note)[:200],
        requested_by=actor,
        created_at=now or timezone.now(),
    )
    from .tasks import refund_execute_task

    # robust: the refund is committed whatever happens next. A broker that cannot be reached
    # (or an eager task that fails) must not turn the consumer's answer into an error page;
    # refunds_retry_stuck sends every pending or failed refund again.
    transaction.on_commit(lambda: refund_execute_task.delay(refund.pk), robust=True)
    return refund


def vouchers_refund(*, order, user, voucher_ids=None, reason=Refund.Reason.CONSUMER, now=None):
    """Refund unused deal vouchers of an order (all usable ones when `voucher_ids` is None)."""
    now = now or timezone.now()
    with transaction.atomic():
        order = order_services.lock_order(order.pk)
        if order.user_id != user.pk:
            raise NotFound(_("No such order."))
        if order.kind != Order.Kind.DEAL:
            raise Invalid(_("Bookings are cancelled, not refunded by voucher."), code="not_a_deal")
        candidates = order.vouchers.all()
        if voucher_ids is not None:
            ids = set(voucher_ids)
            if not ids or candidates.filter(pk__in=ids).count() != len(ids):
                raise Invalid(
                    _("Some of these vouchers are not in this order."), field="vouchers", code="unknown_voucher"
                )
            candidates = candidates.filter(pk__in=ids)
        else:
            candidates = candidates.filter(status=Voucher.Status.VALID)
        vouchers = lock_vouchers(list(candidates.values_list("pk", flat=True)))
        if not vouchers:
            raise Conflict(_("No unused vouchers left to refund."), code="nothing_to_refund")
        for voucher in vouchers:
            if voucher.status != Voucher.Status.VALID:
                raise Conflict(
                    _("Voucher %(code)s is %(status)s and cannot be refunded.")
                    % {"code": voucher.code_display, "status": voucher.get_status_display()},
                    code="voucher_not_refundable",
                )
        refund = _refund_vouchers_locked(order=order, vouchers=vouchers, reason=reason, actor=user, now=now)
        return refund


def _refund_vouchers_locked(*, order, vouchers, reason, actor=None, now=None):
    """Refund `vouchers` (locked, with the order) for what they cost, give their units back
    and complete the order when nothing is left to use.

    Platform finance may already have given back part of the payment (a goodwill refund):
    the vouchers' refund is then capped at what is left, so the consumer gets the whole
    payment back and never more. Refusing instead would leave unused vouchers that can
    never be refunded, and would stop the expiry job at this order.
    """
    amount = sum((v.amount for v in vouchers), ZERO)
    refund = _refund_create(
        payment=_paid_payment(order), order=order, amount=amount, reason=reason, actor=actor, now=now, capped=True
    )
    units_by_deal = {}
    for voucher in vouchers:
        voucher_mark_refunded(voucher=voucher, refund=refund, now=now)
        units_by_deal[voucher.deal_id] = units_by_deal.get(voucher.deal_id, 0) + 1
    for deal_id, units in units_by_deal.items():
        order_services.order_units_returned(order=order, deal_id=deal_id, units=units)
    order_services.order_complete_if_done(order=order, now=now)
    return refund


def vouchers_expire_and_refund(*, now=None, limit=500):
    """Periodic: every unused voucher past its validity is expired and refunded (DESIGN §1:
    "an unused voucher that expires is refunded automatically"). Safe to run twice."""
    now = now or timezone.now()
    ids = list(
        Voucher.objects.filter(status=Voucher.Status.VALID, valid_until__lt=now, kind=Voucher.Kind.DEAL)
        .order_by("valid_until")
        .values_list("order_id", flat=True)
        .distinct()[:limit]
    )
    done = 0
    for order_id in dict.fromkeys(ids):
        try:
            with transaction.atomic():
                order = order_services.lock_order(order_id)
                due = lock_vouchers(
                    list(
                        order.vouchers.filter(status=Voucher.Status.VALID, valid_until__lt=now).values_list(
                            "pk", flat=True
                        )
                    )
                )
                due = [v for v in due if voucher_mark_expired(voucher=v, now=now)]
                if due:
                    refund = _refund_vouchers_locked(order=order, vouchers=due, reason=Refund.Reason.EXPIRED, now=now)
                    _notify_vouchers_auto_refunded(order, due, refund)
                    done += len(due)
        except DomainError:
            # One order that cannot be refunded (rolled back, retried next run) must not keep
            # every order behind it from being expired and refunded.
            logger.exception("could not expire and refund the vouchers of order #%s", order_id)
    return done


def booking_cancel_and_refund(*, order, user, now=None):
    """The consumer cancels: an unpaid booking is simply cancelled; a confirmed one is
    refunded under its cancellation policy."""
    with transaction.atomic():
        locked = order_services.lock_order(order.pk)
        if locked.user_id != user.pk:
            raise NotFound(_("No such order."))
        if locked.status == Order.Status.PENDING_PAYMENT:
            return order_services.order_cancel_unpaid(order=locked, actor=user, now=now)
        to_refund = order_services.booking_cancel_by_consumer(order=locked, actor=user, now=now)
        _void_booking_voucher(locked, now=now)
        to_refund = _refund_booking(locked, to_refund, Refund.Reason.BOOKING_CANCELLED, actor=user, now=now)
        _notify_booking_cancelled(locked.pk, by="consumer", refund_amount=to_refund)
        return locked


def booking_cancel_by_merchant_and_refund(*, order, actor, reason, now=None):
    with transaction.atomic():
        locked = order_services.lock_order(order.pk)
        to_refund = order_services.booking_cancel_by_merchant(order=locked, actor=actor, reason=reason, now=now)
        _void_booking_voucher(locked, now=now)
        to_refund = _refund_booking(
            locked, to_refund, Refund.Reason.MERCHANT_CANCELLED, actor=actor, now=now, note=reason
        )
        _notify_booking_cancelled(locked.pk, by="merchant", reason=reason, refund_amount=to_refund)
        return locked


def booking_no_show_and_refund(*, order, actor, now=None):
    """The party did not come: the no-show fee is kept, the rest goes back."""
    with transaction.atomic():
        locked = order_services.lock_order(order.pk)
        to_refund = order_services.booking_mark_no_show(order=locked, actor=actor, now=now)
        for voucher in lock_vouchers(
            list(locked.vouchers.filter(status=Voucher.Status.VALID).values_list("pk", flat=True))
        ):
            voucher.status, voucher.expired_at = Voucher.Status.EXPIRED, now or timezone.now()
            voucher.save(update_fields=["status", "expired_at"])
        to_refund = _refund_booking(locked, to_refund, Refund.Reason.NO_SHOW, actor=actor, now=now)
        _notify_booking_no_show(locked.pk, refund_amount=to_refund)
        return locked


def _refund_booking(order, amount, reason, *, actor, now=None, note=""):
    """Refund what a booking's cancellation or no-show gives back, capped at what is left of
    the payment (finance may have refunded part already); returns the amount refunded."""
    if amount <= ZERO:
        return ZERO
    refund = _refund_create(
        payment=_paid_payment(order),
        order=order,
        amount=amount,
        reason=reason,
        note=note,
        actor=actor,
        now=now,
        capped=True,
    )
    return refund.amount if refund else ZERO


def _void_booking_voucher(order, *, now=None):
    for voucher in lock_vouchers(list(order.vouchers.filter(status=Voucher.Status.VALID).values_list("pk", flat=True))):
        voucher_mark_refunded(voucher=voucher, refund=None, now=now)


def refund_by_finance(*, order, amount, note, actor):
    """Platform finance refunds any part of a paid order from admin (also redeemed items,
    which settlement then claws back)."""
    if not note or not note.strip():
        raise Invalid(_("Write down why."), field="note", code="reason_required")
    if isinstance(amount, float):
        raise Invalid(_("Give the amount as a decimal, not a float."), field="amount", code="bad_amount")
    try:
        amount = Decimal(str(amount).strip())
    except InvalidOperation:
        raise Invalid(_("The amount must be a number."), field="amount", code="bad_amount") from None
    # Fractions of a cent would be rounded differently by the database, the gateway and the
    # ledger: the books must see exactly what the payer gets.
    if not amount.is_finite() or amount <= ZERO or amount != amount.quantize(Decimal("0.01")):
        raise Invalid(
            _("The amount must be positive, in yuan and fen (two decimal places)."), field="amount", code="bad_amount"
        )
    with transaction.atomic():
        locked = order_services.lock_order(order.pk)
        return _refund_create(
            payment=_paid_payment(locked),
            order=locked,
            amount=amount,
            reason=Refund.Reason.ADMIN,
            note=note,
            actor=actor,
        )


def refund_execute(*, refund_id):
    """Send a refund to the gateway (idempotency key: the refund's), then book it. Safe to
    run any number of times; a GatewayError leaves it pending for the next try."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status == Refund.Status.SUCCEEDED:
        return refund
    gateway = get_gateway(refund.payment.gateway)
    try:
        gateway_refund_id = gateway.refund(
            refund.payment, amount=refund.amount, idempotency_key=str(refund.idempotency_key)
        )
    except GatewayError as exc:
        # F(): concurrent attempts (a task retry and the periodic sweep) each count.
        Refund.objects.filter(pk=refund.pk).exclude(status=Refund.Status.SUCCEEDED).update(
            status=Refund.Status.FAILED, last_error=str(exc)[:300], attempts=F("attempts") + 1
        )
        raise
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).get(pk=refund_id)
        if refund.status != Refund.Status.SUCCEEDED:
            refund.status, refund.completed_at = Refund.Status.SUCCEEDED, timezone.now()
            refund.gateway_refund_id, refund.attempts = gateway_refund_id, F("attempts") + 1
            refund.save(update_fields=["status", "completed_at", "gateway_refund_id", "attempts"])
            refund.refresh_from_db(fields=["attempts"])
            ledger.post_refund(refund)
            _notify_refund_done(refund)
    return refund


def refunds_retry_stuck(*, older_than_seconds=120, now=None):
    """Periodic: refunds still pending or failed after a while are sent again (never lost)."""
    now = now or timezone.now()
    from .tasks import refund_execute_task

    cutoff = now - dt.timedelta(seconds=older_than_seconds)
    ids = list(
        Refund.objects.filter(
            status__in=[Refund.Status.PENDING, Refund.Status.FAILED], created_at__lte=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for refund_id in ids:
        refund_execute_task.delay(refund_id)
    return len(ids)


# --- notifications (DESIGN §1 step 8) ------------------------------------------------------------
# Called inside the flows' transactions: notifications writes its inbox rows there and sends
# only after the commit, so a flow that rolls back tells nobody anything. Each event is
# idempotent (one per event, object and recipient), so a repeated flow repeats no message.


def _merchant_staff(order):
    """Owners and managers of the order's merchant who work at its store (no stores listed on a
    membership means every store): the people who run its orders and bookings."""
    roles = [MerchantMember.Role.OWNER, MerchantMember.Role.MANAGER]
    members = (
        MerchantMember.objects.filter(merchant_id=order.merchant_id, role__in=roles)
        .filter(Q(stores__isnull=True) | Q(stores=order.store_id))
        .select_related("user")
        .distinct()
    )
    return [member.user for member in members.order_by("pk")]


def _booking_facts(order):
    booking = order.booking
    return {
        "order_id": order.pk,
        "order_number": order.number,
        "store_name": order.store.name,
        "service_name": booking.service.name,
        "start": booking.local_start,  # shown as the store's wall clock
        "party_size": booking.party_size,
    }


def _bookings_console_link(order):
    return f"{reverse('console:bookings')}?date={order.booking.local_start:%Y-%m-%d}"


def _notify_order_paid(order_id):
    """The consumer's receipt (a booking: its confirmation) and the merchant's new order."""
    order = Order.objects.select_related("user", "store__city").get(pk=order_id)
    staff = _merchant_staff(order)
    if order.kind == Order.Kind.BOOKING:
        notification_events.booking_confirmed(
            consumer=order.user,
            merchant_staff=staff,
            **_booking_facts(order),
            amount=order.total,
            link=order.get_absolute_url(),
            merchant_link=_bookings_console_link(order),
            customer_name=order.user.masked_name,
        )
        return
    items = list(order.items.all())
    notification_events.order_paid(
        consumer=order.user,
        merchant_staff=staff,
        order_id=order.pk,
        order_number=order.number,
        store_name=order.store.name,
        items="、".join(item.title for item in items),
        quantity=sum(item.quantity for item in items),
        amount=order.total,
        link=order.get_absolute_url(),
        merchant_link=reverse("console:home"),
        customer_name=order.user.masked_name,
    )


def _notify_booking_cancelled(order_id, *, by, reason="", refund_amount=None):
    """Tell the other side: the merchant's staff when the consumer cancels, and the reverse."""
    order = Order.objects.select_related("user", "store__city").get(pk=order_id)
    by_consumer = by == "consumer"
    notification_events.booking_cancelled(
        by=by,
        recipients=_merchant_staff(order) if by_consumer else [order.user],
        **_booking_facts(order),
        link=_bookings_console_link(order) if by_consumer else order.get_absolute_url(),
        reason=reason,
        refund_amount=refund_amount,
        fee_kept=order.booking.fee_kept,
        customer_name=order.user.masked_name,
    )


def _notify_booking_no_show(order_id, *, refund_amount):
    order = Order.objects.select_related("user", "store__city").get(pk=order_id)
    facts = _booking_facts(order)
    notification_events.booking_no_show(
        consumer=order.user,
        order_id=order.pk,
        store_name=facts["store_name"],
        service_name=facts["service_name"],
        start=facts["start"],
        fee_kept=order.booking.fee_kept,
        refund_amount=refund_amount,
        link=order.get_absolute_url(),
    )


def _notify_vouchers_auto_refunded(order, vouchers, refund):
    notification_events.voucher_auto_refunded(
        consumer=order.user,
        order_id=order.pk,
        refund_id=refund.pk if refund else None,
        title=vouchers[0].title,
        count=len(vouchers),
        amount=refund.amount if refund else ZERO,
        link=order.get_absolute_url(),
    )


def _notify_refund_done(refund):
    order = Order.objects.select_related("user").get(pk=refund.order_id)
    notification_events.refund_done(
        consumer=order.user,
        refund_id=refund.pk,
        order_number=order.number,
        amount=refund.amount,
        link=order.get_absolute_url(),
    )
