"""Every write on orders: creation with holds, payment, cancellation, expiry, booking steps.

Concurrency (DESIGN §6): stock, per-user limits and slot places are taken with conditional
UPDATEs whose WHERE clause is the rule (`units_taken + n <= stock`), so the database refuses
an oversell whatever the number of web processes. The hot row (the deal's stock) is updated
last, just before COMMIT, so its lock is held for one statement.
"""

import datetime as dt
import logging
import secrets

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.models import Voucher
from coupons.services import lock_vouchers
from merchants.models import Deal, Merchant, Service, Store
from notifications import events as notification_events
from o2o.errors import Conflict, Gone, Invalid, NotFound
from o2o.money import ZERO, share, to_money

from .availability import check_bookable_start
from .models import PAYMENT_WINDOW, Booking, DealQuota, Order, OrderEvent, OrderItem, SlotLoad

logger = logging.getLogger(__name__)

MAX_QUANTITY = 100
NUMBER_ATTEMPTS = 3


# --- numbers and transitions ---------------------------------------------------------


def _new_order_number(now):
    """14 digits: the day (yymmdd, platform time) and 8 random digits, easy to read out."""
    return f"{timezone.localtime(now):%y%m%d}{secrets.randbelow(10**8):08d}"


def _check_move(order, target):
    """Raise Conflict `illegal_transition` unless `order` may move to `target` (DESIGN §4)."""
    if not order.can_move_to(target):
        raise Conflict(
            _("An order that is %(status)s cannot become %(target)s.")
            % {"status": order.get_status_display(), "target": Order.Status(target).label},
            code="illegal_transition",
        )


def _transition(order, target, *, actor=None, note="", fields=(), now=None):
    """Move `order` (locked by the caller) to `target` or raise Conflict; write the history row."""
    _check_move(order, target)
    previous = order.status
    order.status = target
    order.save(update_fields=["status", *fields])
    OrderEvent.objects.create(
        order=order, from_status=previous, to_status=target, actor=actor, note=note, created_at=now or timezone.now()
    )


def lock_order(order_id):
    try:
        return Order.objects.select_for_update(of=("self",)).get(pk=order_id)
    except Order.DoesNotExist:
        raise NotFound(_("No such order.")) from None


# --- holds -----------------------------------------------------------------------------


def _take_quota(deal, user, units):
    """Count `units` against the user's limit for the deal, or refuse (atomic upsert)."""
    table = DealQuota._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (deal_id, user_id, units) VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (deal_id, user_id) DO UPDATE SET units = "
            f"{table}.units + excluded.units WHERE {table}.units + excluded.units <= %s RETURNING units",
            [deal.pk, user.pk, units, deal.per_user_limit],
        )
        return cursor.fetchone() is not None


def _release_quota(deal_id, user_id, units):
    DealQuota.objects.filter(deal_id=deal_id, user_id=user_id, units__gte=units).update(units=F("units") - units)


def _take_stock(deal, units):
    """Take `units` of a deal's stock, or return False when too few are left. The rule is
    read from the row being updated, so a merchant cutting the stock meanwhile is respected."""
    has_room = Q(stock__isnull=True) | Q(units_taken__lte=F("stock") - units)
    return Deal.objects.filter(has_room, pk=deal.pk).update(units_taken=F("units_taken") + units) == 1


def _release_stock(deal_id, units):
    Deal.objects.filter(pk=deal_id, units_taken__gte=units).update(units_taken=F("units_taken") - units)
    # Now, so that the rest of this transaction sees the stock, and again after COMMIT, in
    # case a request that read the deal before that set the flag meanwhile.
    _forget_sold_out(deal_id)
    transaction.on_commit(lambda: _forget_sold_out(deal_id))


# A flash sale's losers outnumber its winners many times over. Once a live request has found
# a deal sold out (with no expired hold to free), the requests of the next second are told so
# from the cache without reading the deal. The database stays the judge of every sale: the
# flag only ever refuses, it is dropped when stock comes back, and it lives one second of real
# time at most (the longest an expired hold or a raised stock can go unnoticed). A caller that
# names the time (`now=`: tests, replays) is not on the clock the flag lives by, so it always
# gets the database's answer.
SOLD_OUT_SECONDS = 1


def _sold_out_key(deal_id):
    return f"orders:sold-out:{deal_id}"


def _known_sold_out(deal_id):
    try:
        return cache.get(_sold_out_key(deal_id)) is not None
    except Exception:  # the cache is only a shortcut: without it, ask the database
        logger.warning("cache unavailable for the sold-out flag", exc_info=True)
        return False


def _remember_sold_out(deal_id):
    try:
        cache.set(_sold_out_key(deal_id), True, timeout=SOLD_OUT_SECONDS)
    except Exception:
        logger.warning("cache unavailable for the sold-out flag", exc_info=True)


def _forget_sold_out(deal_id):
    try:
        cache.delete(_sold_out_key(deal_id))
    except Exception:
        logger.warning("cache unavailable for the sold-out flag", exc_info=True)


def _take_slot(service, start, places):
    """Take `places` of the slot at `start`, or return False when it is full."""
    SlotLoad.objects.bulk_create([SlotLoad(service=service, start=start, taken=0)], ignore_conflicts=True)
    return (
        SlotLoad.objects.filter(service=service, start=start, taken__lte=service.capacity - places).update(
            taken=F("taken") + places
        )
        == 1
    )


def _release_slot(service_id, start, places):
    SlotLoad.objects.filter(service_id=service_id, start=start, taken__gte=places).update(taken=F("taken") - places)


def _release_holds(order):
    """Give back what a cancelled or expired order held. The order row is locked."""
    if order.kind == Order.Kind.DEAL:
        for item in order.items.all():
            _release_quota(item.deal_id, order.user_id, item.quantity)
            _release_stock(item.deal_id, item.quantity)
    else:
        booking = order.booking
        if booking.holds_slot:
            _release_slot(booking.service_id, booking.start, booking.places)
            booking.holds_slot = False
            booking.save(update_fields=["holds_slot"])


# --- creation ----------------------------------------------------------------------------


def _check_sellable_store(store):
    if store.merchant.status != Merchant.Status.APPROVED or not store.is_published:
        raise NotFound(_("This store is not taking orders."), code="store_unavailable")


# What selling a deal reads, and nothing more: every request of a flash sale compiles this
# query, and building the full rows of five tables cost more than the rest of the request.
_DEAL_FIELDS_FOR_SALE = (
    "id",
    "store_id",
    "title",
    "price",
    "stock",
    "units_taken",
    "per_user_limit",
    "max_per_order",
    "sale_starts",
    "sale_ends",
    "is_active",
    "store__merchant_id",
    "store__is_published",
    "store__merchant__status",
    "store__merchant__commission_rate",
    "store__merchant__category_id",
    "store__merchant__category__commission_rate",
    "store__merchant__category__parent_id",
    "store__merchant__category__parent__commission_rate",
    "store__merchant__category__parent__parent_id",
)


def _get_deal(deal_id):
    """The deal with its store, merchant and the categories its commission rate may come from,
    in one query (only the fields order_create_for_deal reads)."""
    try:
        deal = (
            Deal.objects.select_related("store__merchant__category__parent")
            .only(*_DEAL_FIELDS_FOR_SALE)
            .get(pk=deal_id)
        )
    except (Deal.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such deal."), field="deal", code="unknown_deal") from None
    _check_sellable_store(deal.store)
    return deal


def _check_deal_on_sale(deal, now):
    if not deal.is_active:
        raise NotFound(_("This deal is not on sale."), field="deal", code="unknown_deal")
    if deal.sale_starts and now < deal.sale_starts:
        raise Invalid(_("This deal is not on sale yet."), field="deal", code="sale_not_started")
    if deal.sale_ends and now >= deal.sale_ends:
        raise Gone(_("This deal's sale has ended."), field="deal", code="sale_ended")


def _check_quantity_is_sane(quantity):
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1 or quantity > MAX_QUANTITY:
        raise Invalid(
            _("Choose between 1 and %(n)d units.") % {"n": MAX_QUANTITY}, field="quantity", code="bad_quantity"
        )


def _check_quantity(deal, quantity):
    _check_quantity_is_sane(quantity)
    if quantity > deal.max_per_order:
        raise Invalid(
            _("At most %(n)d units per order.") % {"n": deal.max_per_order}, field="quantity", code="over_order_limit"
        )
    if quantity > deal.per_user_limit:
        raise Conflict(
            _("Each person may buy at most %(n)d.") % {"n": deal.per_user_limit},
            field="quantity",
            code="limit_reached",
        )


def _create_with_unique_number(create, now):
    """Run `create(number)` in a transaction; a (very rare) number collision tries again."""
    for attempt in range(NUMBER_ATTEMPTS):
        try:
            with transaction.atomic():
                return create(_new_order_number(now))
        except IntegrityError as exc:
            if "number" not in str(exc) or attempt == NUMBER_ATTEMPTS - 1:
                raise
            logger.warning("order number collision, trying another")
    raise AssertionError("unreachable")


def order_create_for_deal(*, user, deal_id, quantity, now=None):
    """Create an unpaid order for `quantity` units of a deal, holding stock and the user's
    limit for 15 minutes. Refusals: sold out and over the limit are 409s."""
    live = now is None
    now = now or timezone.now()
    _check_quantity_is_sane(quantity)
    if live and _known_sold_out(deal_id):
        raise Conflict(_("Sold out."), field="deal", code="sold_out")
    deal = _get_deal(deal_id)
    _check_deal_on_sale(deal, now)
    _check_quantity(deal, quantity)
    # Cheap early answer for the many losers of a flash sale; lazily free expired holds
    # first (DESIGN §9) so a late expiry worker never makes a deal look sold out.
    looks_sold_out = deal.stock is not None and deal.units_taken + quantity > deal.stock
    if looks_sold_out and not orders_expire_due(deal_id=deal.pk, now=now):
        if live and deal.units_taken >= deal.stock:
            _remember_sold_out(deal.pk)
        raise Conflict(_("Sold out."), field="deal", code="sold_out")

    subtotal = to_money(deal.price * quantity)
    commission_rate = deal.store.merchant.effective_commission_rate

    def create(number):
        order = Order.objects.create(
            number=number,
            user=user,
            merchant_id=deal.store.merchant_id,
            store_id=deal.store_id,
            kind=Order.Kind.DEAL,
            subtotal=subtotal,
            total=subtotal,
            commission_rate=commission_rate,
            payment_deadline=now + PAYMENT_WINDOW,
            created_at=now,
        )
        OrderItem.objects.create(
            order=order, deal=deal, title=deal.title, unit_price=deal.price, quantity=quantity, subtotal=subtotal
        )
        OrderEvent.objects.create(order=order, to_status=order.status, actor=user, created_at=now)
        if not _take_quota(deal, user, quantity):
            raise Conflict(
                _("Each person may buy at most %(n)d; your other orders already hold the rest.")
                % {"n": deal.per_user_limit},
                field="quantity",
                code="limit_reached",
            )
        # Last statement before COMMIT: the hot row's lock lives for one statement.
        if not _take_stock(deal, quantity):
            raise Conflict(_("Sold out."), field="deal", code="sold_out")
        return order

    try:
        return _create_with_unique_number(create, now)
    except Conflict as exc:
        # An expired hold of this user may be what blocks them: free it and try once more.
        if orders_expire_due(deal_id=deal.pk, user_id=user.pk if exc.code == "limit_reached" else None, now=now):
            return _create_with_unique_number(create, now)
        raise


def _get_service(service_id):
    try:
        service = Service.objects.select_related("store__merchant__category__parent", "store__city").get(pk=service_id)
    except (Service.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such service."), field="service", code="unknown_service") from None
    if not service.is_active:
        raise NotFound(_("This service is not bookable."), field="service", code="unknown_service")
    _check_sellable_store(service.store)
    return service


def _create_booking_order(
    number, *, user, service, start, party_size, places, prepaid, price, policy, note, now, voucher=None
):
    """Insert a booking's order, item, booking and history row, then take its slot place (last:
    the slot row's lock lives for one statement). Nothing to prepay confirms it at once."""
    merchant = service.store.merchant
    order = Order.objects.create(
        number=number,
        user=user,
        merchant=merchant,
        store=service.store,
        kind=Order.Kind.BOOKING,
        subtotal=prepaid,
        total=prepaid,
        commission_rate=merchant.effective_commission_rate,
        payment_deadline=now + PAYMENT_WINDOW,
        created_at=now,
    )
    OrderItem.objects.create(
        order=order, service=service, title=service.name, unit_price=prepaid, quantity=1, subtotal=prepaid
    )
    Booking.objects.create(
        order=order,
        service=service,
        store=service.store,
        start=start,
        end=start + dt.timedelta(minutes=service.duration_minutes),
        party_size=party_size,
        places=places,
        prepaid=prepaid,
        price=price,
        cancellation_policy=policy,
        note=note[:200],
        voucher=voucher,
    )
    OrderEvent.objects.create(
        order=order, to_status=order.status, actor=user, note="with voucher" if voucher else "", created_at=now
    )
    if not _take_slot(service, start, places):
        raise Conflict(_("This time is fully booked."), field="start", code="slot_full")
    if prepaid == ZERO:
        order_mark_paid(order=order, now=now)
        # order_mark_paid confirms a fresh, locked copy: hand the caller the confirmed one.
        order.refresh_from_db()
    return order


def order_create_for_booking(*, user, service_id, start, party_size, note="", now=None):
    """Book a slot: hold one place (or one per person) for 15 minutes until paid. A service
    without prepayment is confirmed at once."""
    now = now or timezone.now()
    service = _get_service(service_id)
    if (
        not isinstance(party_size, int)
        or isinstance(party_size, bool)
        or not service.min_party <= party_size <= service.max_party
    ):
        raise Invalid(
            _("Party size must be between %(lo)d and %(hi)d.") % {"lo": service.min_party, "hi": service.max_party},
            field="party_size",
            code="bad_party_size",
        )
    places = service.places_for(party_size)
    if places > service.capacity:
        raise Invalid(_("This party is larger than a slot can take."), field="party_size", code="bad_party_size")
    check_bookable_start(service, start, now=now)

    price = to_money(service.price_for(party_size))
    prepaid = to_money(service.prepaid_amount_for(party_size))

    def create(number):
        return _create_booking_order(
            number,
            user=user,
            service=service,
            start=start,
            party_size=party_size,
            places=places,
            prepaid=prepaid,
            price=price,
            policy=service.cancellation_policy,
            note=note,
            now=now,
        )

    try:
        return _create_with_unique_number(create, now)
    except Conflict as exc:
        if exc.code == "slot_full" and orders_expire_due(service_id=service.pk, start=start, now=now):
            return _create_with_unique_number(create, now)
        raise


# --- payment, expiry, cancellation ------------------------------------------------------------


@transaction.atomic
def order_mark_paid(*, order, now=None, actor=None):
    """The payment arrived: a deal order becomes paid, a booking confirmed. Idempotent.

    Returns False when the order can no longer be paid (cancelled or expired): the caller
    (payments) then refunds the money.
    """
    now = now or timezone.now()
    order = lock_order(order.pk)
    target = Order.Status.PAID if order.kind == Order.Kind.DEAL else Order.Status.CONFIRMED
    if order.paid_at is not None:
        return True  # already recorded: a repeated notification
    if order.status != Order.Status.PENDING_PAYMENT:
        return False
    order.paid_at = now
    _transition(order, target, actor=actor, fields=["paid_at"], now=now)
    if order.kind == Order.Kind.DEAL:
        for item in order.items.all():
            Deal.objects.filter(pk=item.deal_id).update(units_sold=F("units_sold") + item.quantity)
    Store.objects.filter(pk=order.store_id).update(sales_count=F("sales_count") + 1)
    return True


@transaction.atomic
def order_cancel_unpaid(*, order, actor=None, reason="consumer", now=None):
    """Cancel an order that was never paid and release its holds."""
    now = now or timezone.now()
    order = lock_order(order.pk)
    if order.status == Order.Status.CANCELLED:
        return order
    if order.status != Order.Status.PENDING_PAYMENT:
        raise Conflict(_("Only an unpaid order can be cancelled this way."), code="not_pending")
    order.cancelled_at, order.cancel_reason = now, reason
    _transition(
        order, Order.Status.CANCELLED, actor=actor, note=reason, fields=["cancelled_at", "cancel_reason"], now=now
    )
    _release_holds(order)
    return order


def order_expire(*, order_id, now=None):
    """Cancel one unpaid order whose payment deadline has passed; True when it did."""
    now = now or timezone.now()
    with transaction.atomic():
        order = lock_order(order_id)
        if order.status != Order.Status.PENDING_PAYMENT or order.payment_deadline > now:
            return False  # paid, cancelled or extended meanwhile: nothing to do
        order.cancelled_at, order.cancel_reason = now, "expired"
        _transition(
            order,
            Order.Status.CANCELLED,
            note="payment deadline passed",
            fields=["cancelled_at", "cancel_reason"],
            now=now,
        )
        _release_holds(order)
        return True


def orders_expire_due(*, deal_id=None, user_id=None, service_id=None, start=None, now=None, limit=500):
    """Expire unpaid orders past their deadline (all, or those holding one deal/slot).
    Returns how many it expired. Safe to run concurrently: each order is re-checked under
    its row lock."""
    now = now or timezone.now()
    due = Order.objects.filter(status=Order.Status.PENDING_PAYMENT, payment_deadline__lte=now)
    if deal_id is not None:
        due = due.filter(items__deal_id=deal_id)
    if user_id is not None:
        due = due.filter(user_id=user_id)
    if service_id is not None:
        due = due.filter(booking__service_id=service_id)
    if start is not None:
        due = due.filter(booking__start=start)
    ids = list(due.order_by("payment_deadline").values_list("pk", flat=True)[:limit])
    return sum(1 for order_id in ids if order_expire(order_id=order_id, now=now))


def cancellation_terms(booking, *, now=None):
    """What cancelling now costs: (is_free, fee) where fee is kept from the prepaid amount."""
    now = now or timezone.now()
    free_hours, late_rate, _no_show_rate = Service(cancellation_policy=booking.cancellation_policy).terms
    if now <= booking.start - dt.timedelta(hours=free_hours):
        return True, ZERO
    return False, min(share(booking.prepaid, late_rate), booking.prepaid)


@transaction.atomic
def booking_cancel_by_consumer(*, order, actor, now=None):
    """The consumer cancels a confirmed booking: free before the policy's cut-off, else the
    late-cancel fee is kept. Returns the amount to refund (the payments app refunds it)."""
    now = now or timezone.now()
    order = lock_order(order.pk)
    if order.kind != Order.Kind.BOOKING:
        raise Invalid(_("Only bookings can be cancelled; refund a deal's vouchers instead."), code="not_a_booking")
    booking = order.booking
    if now >= booking.start:
        raise Conflict(_("The booking has already started."), code="booking_started")
    _free, fee = cancellation_terms(booking, now=now)
    booking.fee_kept = fee
    booking.save(update_fields=["fee_kept"])
    order.cancelled_at, order.cancel_reason = now, "consumer"
    _transition(
        order, Order.Status.CANCELLED_BY_CONSUMER, actor=actor, fields=["cancelled_at", "cancel_reason"], now=now
    )
    _release_holds(order)
    return booking.prepaid - fee


@transaction.atomic
def booking_cancel_by_merchant(*, order, actor, reason, now=None):
    """The merchant cancels: the consumer gets everything back."""
    now = now or timezone.now()
    if not reason or not reason.strip():
        raise Invalid(_("Tell the customer why."), field="reason", code="reason_required")
    order = lock_order(order.pk)
    order.cancelled_at, order.cancel_reason = now, "merchant"
    _transition(
        order,
        Order.Status.CANCELLED_BY_MERCHANT,
        actor=actor,
        note=reason.strip()[:200],
        fields=["cancelled_at", "cancel_reason"],
        now=now,
    )
    _release_holds(order)
    return order.booking.prepaid


@transaction.atomic
def booking_check_in(*, order, actor, now=None):
    now = now or timezone.now()
    order = lock_order(order.pk)
    if order.status == Order.Status.CHECKED_IN:
        return order
    _check_move(order, Order.Status.CHECKED_IN)  # before order.booking: a deal order has none
    booking = order.booking
    if now.astimezone(booking.store.tzinfo).date() < booking.local_start.date():
        raise Conflict(_("A booking can be checked in on its day, not before."), code="too_early")
    _transition(order, Order.Status.CHECKED_IN, actor=actor, now=now)
    booking.checked_in_at = now
    booking.save(update_fields=["checked_in_at"])
    notification_events.review_invitation(
        consumer=order.user, order_id=order.pk, store_name=booking.store.name, link=order.get_absolute_url()
    )
    return order


@transaction.atomic
def booking_mark_no_show(*, order, actor, now=None):
    """The party did not come: the no-show fee is kept, the rest refunded. Not before the start."""
    now = now or timezone.now()
    order = lock_order(order.pk)
    _check_move(order, Order.Status.NO_SHOW)  # before order.booking: a deal order has none
    booking = order.booking
    if now < booking.start:
        raise Conflict(_("A booking can be marked no-show only after its start time."), code="not_started")
    _free_hours, _late, no_show_rate = Service(cancellation_policy=booking.cancellation_policy).terms
    booking.fee_kept = min(share(booking.prepaid, no_show_rate), booking.prepaid)
    booking.save(update_fields=["fee_kept"])
    _transition(order, Order.Status.NO_SHOW, actor=actor, now=now)
    return booking.prepaid - booking.fee_kept


@transaction.atomic
def booking_complete(*, order, actor=None, now=None):
    now = now or timezone.now()
    order = lock_order(order.pk)
    if order.status == Order.Status.COMPLETED:
        return order
    order.completed_at = now
    _transition(order, Order.Status.COMPLETED, actor=actor, fields=["completed_at"], now=now)
    return order


def booking_reschedule(*, order, actor, start, now=None):
    """Move a booking to another start. The new place is taken before the old one is given
    back, in one transaction: the consumer never ends up with neither."""
    now = now or timezone.now()
    with transaction.atomic():
        order = lock_order(order.pk)
        if order.status not in (Order.Status.PENDING_PAYMENT, Order.Status.CONFIRMED):
            raise Conflict(_("This booking can no longer be moved."), code="not_movable")
        booking = Booking.objects.select_related("service__store__city").get(order=order)
        if booking.start == start:
            return order
        check_bookable_start(booking.service, start, now=now)
        if not _take_slot(booking.service, start, booking.places):
            raise Conflict(_("This time is fully booked."), field="start", code="slot_full")
        _release_slot(booking.service_id, booking.start, booking.places)
        old = booking.start
        booking.start = start
        booking.end = start + dt.timedelta(minutes=booking.service.duration_minutes)
        booking.save(update_fields=["start", "end"])
        OrderEvent.objects.create(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor=actor,
            note=f"moved from {old.isoformat()} to {start.isoformat()}",
            created_at=now,
        )
        return order


# --- after payment: units given back, completion -----------------------------------------


def order_units_returned(*, order, deal_id, units):
    """Refunded deal units go back to the stock and to the user's limit. The caller holds
    the order's lock (it is refunding the order's vouchers)."""
    _release_quota(deal_id, order.user_id, units)
    _release_stock(deal_id, units)
    Deal.objects.filter(pk=deal_id, units_sold__gte=units).update(units_sold=F("units_sold") - units)


def order_complete_if_done(*, order, now=None):
    """A paid deal order is completed once none of its vouchers is still usable. The caller
    holds the order's lock."""
    if order.kind != Order.Kind.DEAL or order.status != Order.Status.PAID:
        return False
    if order.vouchers.filter(status="valid").exists():
        return False
    order.completed_at = now or timezone.now()
    _transition(order, Order.Status.COMPLETED, fields=["completed_at"], now=order.completed_at)
    return True


def order_reopen_after_undo(*, order, actor=None, note="", now=None):
    """A deal order completed by its last redemption goes back to paid when that redemption
    is undone (the merchant's one-hour undo, DESIGN §9). The caller holds the order's lock.

    COMPLETED → PAID is deliberately not in Order.TRANSITIONS: no other flow may reopen a
    completed order, so this one move is checked here instead. Returns True when it reopened.
    """
    if order.kind != Order.Kind.DEAL or order.status != Order.Status.COMPLETED:
        return False
    if not order.vouchers.filter(status="valid").exists():
        return False  # nothing usable again: the order stays completed
    now = now or timezone.now()
    previous = order.status
    order.status, order.completed_at = Order.Status.PAID, None
    order.save(update_fields=["status", "completed_at"])
    OrderEvent.objects.create(
        order=order, from_status=previous, to_status=order.status, actor=actor, note=note[:200], created_at=now
    )
    return True


# --- appointments booked with a deal voucher ---------------------------------------------------


def order_create_for_appointment(*, user, voucher_id, start, party_size, note="", now=None):
    """Book a slot of the deal's appointment service with an unused voucher of that deal.
    Nothing is paid (the voucher was); the booking is confirmed at once and the voucher is
    redeemed at the visit. One live appointment per voucher: move it rather than book again."""
    now = now or timezone.now()
    voucher = (
        Voucher.objects.select_related(
            "deal__appointment_service__store__merchant", "deal__appointment_service__store__city"
        )
        .filter(pk=voucher_id, user=user, kind=Voucher.Kind.DEAL)
        .first()
    )
    if voucher is None:
        raise NotFound(_("No such voucher."), field="voucher", code="unknown_voucher")
    deal = voucher.deal
    if not deal.needs_appointment or deal.appointment_service_id is None:
        raise Invalid(_("This voucher needs no appointment."), field="voucher", code="no_appointment_needed")
    service = deal.appointment_service
    if not service.min_party <= party_size <= service.max_party:
        raise Invalid(
            _("Party size must be between %(lo)d and %(hi)d.") % {"lo": service.min_party, "hi": service.max_party},
            field="party_size",
            code="bad_party_size",
        )
    check_bookable_start(service, start, now=now)
    if start > voucher.valid_until:
        raise Invalid(_("The voucher expires before this time."), field="start", code="after_voucher_expiry")
    places = service.places_for(party_size)

    def create(number):
        # Race: two taps on two slots would each see no appointment; the voucher's row lock
        # makes the second wait and then see the first.
        (locked,) = lock_vouchers([voucher.pk])
        if locked.status != Voucher.Status.VALID:
            raise Conflict(_("This voucher is no longer usable."), field="voucher", code="voucher_not_valid")
        live = Booking.objects.filter(voucher=locked).exclude(order__status__in=_APPOINTMENT_ENDED)
        if live.exists():
            raise Conflict(
                _("This voucher already has an appointment; change its time instead."), code="already_booked"
            )
        return _create_booking_order(
            number,
            user=user,
            service=service,
            start=start,
            party_size=party_size,
            places=places,
            prepaid=ZERO,
            price=ZERO,
            policy="none",
            note=note,
            now=now,
            voucher=locked,
        )

    return _create_with_unique_number(create, now)


_APPOINTMENT_ENDED = (
    Order.Status.CANCELLED,
    Order.Status.CANCELLED_BY_CONSUMER,
    Order.Status.CANCELLED_BY_MERCHANT,
    Order.Status.NO_SHOW,
)


def appointment_for_visit(*, voucher, now=None):
    """The voucher's confirmed appointment on today's date (store time), if any."""
    now = now or timezone.now()
    for booking in Booking.objects.filter(voucher=voucher, order__status=Order.Status.CONFIRMED).select_related(
        "order", "store__city"
    ):
        if booking.local_start.date() == now.astimezone(booking.store.tzinfo).date():
            return booking
    return None
