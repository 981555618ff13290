"""Bookings: holding a slot, prepayment, cancellation presets, no-shows, check-in, rescheduling."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from merchants.models import CancellationPolicy, Service
from merchants.services import store_closed_date_add
from o2o.errors import Conflict, Invalid, NotFound
from orders.models import Booking, Order, SlotLoad
from orders.services import (
    booking_cancel_by_consumer,
    booking_cancel_by_merchant,
    booking_check_in,
    booking_complete,
    booking_mark_no_show,
    booking_reschedule,
    order_create_for_booking,
)
from tests.factories.catalogue import NOW, ServiceFactory, at_day, booking_order, local
from tests.factories.merchants import StoreFactory

pytestmark = pytest.mark.django_db

TUESDAY_NOON = local(2030, 6, 4, 12)  # 27 hours after NOW


def load(service, start):
    row = SlotLoad.objects.filter(service=service, start=start).first()
    return row.taken if row else 0


def places_taken():
    return SlotLoad.objects.aggregate(total=Sum("taken"))["total"] or 0


def refused(error, code, *, user, service, start=TUESDAY_NOON, party_size=2, now=NOW):
    """Try to book; check the error and that no order was made and no place taken."""
    before = (Order.objects.count(), Booking.objects.count(), places_taken())
    with pytest.raises(error) as info:
        order_create_for_booking(user=user, service_id=service.pk, start=start, party_size=party_size, now=now)
    assert info.value.code == code
    assert (Order.objects.count(), Booking.objects.count(), places_taken()) == before
    return info.value


# --- booking and its amounts ------------------------------------------------------------


def test_booking_holds_one_place_and_snapshots_the_terms(user_factory):
    # given a table service for 100.00, paid in full, fair cancellation
    service = ServiceFactory(price=Decimal("100.00"), duration_minutes=90, capacity=2)
    consumer = user_factory()

    # when
    order = order_create_for_booking(
        user=consumer, service_id=service.pk, start=TUESDAY_NOON, party_size=3, note="window seat", now=NOW
    )

    # then
    order.refresh_from_db()
    assert (order.kind, order.status) == (Order.Kind.BOOKING, Order.Status.PENDING_PAYMENT)
    assert order.total == order.subtotal == Decimal("100.00")
    assert order.payment_deadline == NOW + dt.timedelta(minutes=15)
    assert order.commission_rate == Decimal("0.0600")
    booking = order.booking
    assert booking.start == TUESDAY_NOON
    assert booking.end == TUESDAY_NOON + dt.timedelta(minutes=90)
    assert (booking.party_size, booking.places) == (3, 1)
    assert (booking.prepaid, booking.price) == (Decimal("100.00"), Decimal("100.00"))
    assert booking.cancellation_policy == CancellationPolicy.FAIR
    assert booking.note == "window seat"
    assert load(service, TUESDAY_NOON) == 1


def test_a_per_person_service_charges_and_holds_per_person(user_factory):
    service = ServiceFactory(price=Decimal("80.00"), capacity=10, capacity_per_person=True, max_party=6)

    order = booking_order(user_factory(), service, TUESDAY_NOON, party_size=3, now=NOW)

    assert order.total == Decimal("240.00")
    assert order.booking.places == 3
    assert load(service, TUESDAY_NOON) == 3


@pytest.mark.parametrize(
    ("per_person", "price", "deposit", "party", "prepaid", "full_price"),
    [
        (False, "200.00", "30.00", 2, "30.00", "200.00"),  # a table: one deposit
        (True, "50.00", "30.00", 3, "90.00", "150.00"),  # a class: a deposit per seat
        (False, "50.00", "80.00", 2, "50.00", "50.00"),  # a deposit never exceeds the price
    ],
)
def test_deposit_service_prepays_the_deposit_only(user_factory, per_person, price, deposit, party, prepaid, full_price):
    service = ServiceFactory(
        prepayment=Service.Prepayment.DEPOSIT,
        price=Decimal(price),
        deposit=Decimal(deposit),
        capacity_per_person=per_person,
        capacity=10,
    )

    order = booking_order(user_factory(), service, TUESDAY_NOON, party_size=party, now=NOW)

    assert order.total == Decimal(prepaid)
    assert order.booking.prepaid == Decimal(prepaid)
    assert order.booking.price == Decimal(full_price)


def test_a_service_paid_in_store_is_confirmed_at_once(user_factory):
    service = ServiceFactory(prepayment=Service.Prepayment.NONE, price=Decimal("120.00"))
    consumer = user_factory()

    order = order_create_for_booking(user=consumer, service_id=service.pk, start=TUESDAY_NOON, party_size=2, now=NOW)

    # what the caller is handed says so, and so does the database
    assert order.status == Order.Status.CONFIRMED
    assert order.total == Decimal("0.00")
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED
    assert order.paid_at == NOW
    assert order.booking.price == Decimal("120.00")
    assert [(e.from_status, e.to_status) for e in order.events.all()] == [
        ("", Order.Status.PENDING_PAYMENT),
        (Order.Status.PENDING_PAYMENT, Order.Status.CONFIRMED),
    ]
    assert load(service, TUESDAY_NOON) == 1


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("party_size", [0, 5, "2", None, True])
def test_party_size_out_of_range_is_refused(user_factory, party_size):
    service = ServiceFactory(min_party=1, max_party=4)

    error = refused(Invalid, "bad_party_size", user=user_factory(), service=service, party_size=party_size)

    assert error.field == "party_size"


def test_a_party_bigger_than_the_per_person_capacity_is_refused(user_factory):
    service = ServiceFactory(capacity=3, capacity_per_person=True, max_party=6)

    refused(Invalid, "bad_party_size", user=user_factory(), service=service, party_size=4)


def test_a_party_below_the_minimum_is_refused(user_factory):
    service = ServiceFactory(min_party=2, max_party=8)

    refused(Invalid, "bad_party_size", user=user_factory(), service=service, party_size=1)


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (local(2030, 6, 4, 12, 15), "not_a_slot"),  # slots are on the hour
        (local(2030, 6, 4, 9), "not_a_slot"),  # before the first slot
        (local(2030, 6, 4, 21), "not_a_slot"),  # after the last slot
        (local(2030, 6, 4, 12, 0) + dt.timedelta(seconds=1), "not_a_slot"),
        (local(2030, 6, 2, 12), "slot_in_past"),
        (NOW, "slot_in_past"),
        (local(2030, 6, 3, 9, 30), "too_soon"),  # inside the 60 minutes' notice
        (local(2030, 6, 18, 12), "beyond_window"),  # 15 days ahead, the window is 14
        (dt.datetime(2030, 6, 4, 12), "naive_time"),
    ],
)
def test_a_start_that_is_not_bookable_is_refused(user_factory, start, code):
    service = ServiceFactory(min_notice_minutes=60, booking_window_days=14)

    error = refused(Invalid, code, user=user_factory(), service=service, start=start)

    assert error.field == "start"
    assert error.status_code == 400


def test_the_last_day_of_the_window_can_be_booked(user_factory):
    service = ServiceFactory(booking_window_days=14)

    order = booking_order(user_factory(), service, local(2030, 6, 17, 20), now=NOW)

    assert order.status == Order.Status.PENDING_PAYMENT


def test_the_same_instant_in_another_time_zone_is_the_same_slot(user_factory):
    service = ServiceFactory()

    order = booking_order(user_factory(), service, TUESDAY_NOON.astimezone(dt.UTC), now=NOW)

    assert order.booking.start == TUESDAY_NOON
    assert load(service, TUESDAY_NOON) == 1


def test_a_date_the_store_is_closed_cannot_be_booked(user_factory):
    service = ServiceFactory()
    store_closed_date_add(store=service.store, date=TUESDAY_NOON.date())

    refused(Invalid, "not_a_slot", user=user_factory(), service=service)


def test_a_full_slot_is_refused_and_nothing_changes(user_factory):
    service = ServiceFactory(capacity=2)
    booking_order(user_factory(), service, TUESDAY_NOON, now=NOW)
    booking_order(user_factory(), service, TUESDAY_NOON, now=NOW)

    error = refused(Conflict, "slot_full", user=user_factory(), service=service)

    assert error.status_code == 409
    assert load(service, TUESDAY_NOON) == 2


def test_a_per_person_slot_refuses_a_party_larger_than_the_places_left(user_factory):
    service = ServiceFactory(capacity=5, capacity_per_person=True, max_party=5)
    booking_order(user_factory(), service, TUESDAY_NOON, party_size=3, now=NOW)

    refused(Conflict, "slot_full", user=user_factory(), service=service, party_size=3)

    assert booking_order(user_factory(), service, TUESDAY_NOON, party_size=2, now=NOW)
    assert load(service, TUESDAY_NOON) == 5


def test_an_inactive_or_unknown_service_is_not_found(user_factory):
    consumer = user_factory()
    inactive = ServiceFactory(is_active=False)

    refused(NotFound, "unknown_service", user=consumer, service=inactive)
    with pytest.raises(NotFound):
        order_create_for_booking(user=consumer, service_id=999_999, start=TUESDAY_NOON, party_size=2, now=NOW)


def test_a_service_of_an_unpublished_store_is_not_found(user_factory):
    service = ServiceFactory(store=StoreFactory(is_published=False))

    refused(NotFound, "store_unavailable", user=user_factory(), service=service)


# --- cancellation by the consumer (DESIGN §9 presets) ------------------------------------


def test_cancelling_before_the_cut_off_is_free_and_frees_the_place(user_factory):
    # given a fair booking (free until 24 h before) for Tuesday noon
    service = ServiceFactory(price=Decimal("200.00"), cancellation_policy=CancellationPolicy.FAIR)
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, now=NOW, paid=True)

    # when cancelled exactly 24 hours before
    refund = booking_cancel_by_consumer(order=order, actor=consumer, now=TUESDAY_NOON - dt.timedelta(hours=24))

    # then the whole prepayment comes back and the place is free again
    assert refund == Decimal("200.00")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED_BY_CONSUMER
    assert order.cancel_reason == "consumer"
    assert order.booking.fee_kept == Decimal("0.00")
    assert order.booking.holds_slot is False
    assert load(service, TUESDAY_NOON) == 0


@pytest.mark.parametrize(
    ("policy", "fee"),
    [
        (CancellationPolicy.NONE, "0.00"),
        (CancellationPolicy.FLEXIBLE, "0.00"),
        (CancellationPolicy.FAIR, "20.00"),  # 10 %
        (CancellationPolicy.MODERATE, "60.00"),  # 30 %
        (CancellationPolicy.STRICT, "100.00"),  # 50 %
    ],
)
def test_a_late_cancellation_keeps_the_policys_late_fee(user_factory, policy, fee):
    service = ServiceFactory(price=Decimal("200.00"), cancellation_policy=policy)
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, now=NOW, paid=True)

    refund = booking_cancel_by_consumer(order=order, actor=consumer, now=TUESDAY_NOON - dt.timedelta(hours=1))

    assert refund == Decimal("200.00") - Decimal(fee)
    order.refresh_from_db()
    assert order.booking.fee_kept == Decimal(fee)
    assert order.status == Order.Status.CANCELLED_BY_CONSUMER
    assert load(service, TUESDAY_NOON) == 0


def test_one_second_after_the_cut_off_is_late(user_factory):
    service = ServiceFactory(price=Decimal("200.00"), cancellation_policy=CancellationPolicy.FAIR)
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, now=NOW, paid=True)

    refund = booking_cancel_by_consumer(
        order=order, actor=consumer, now=TUESDAY_NOON - dt.timedelta(hours=24) + dt.timedelta(seconds=1)
    )

    assert refund == Decimal("180.00")


def test_strict_is_free_until_48_hours_before(user_factory):
    service = ServiceFactory(price=Decimal("200.00"), cancellation_policy=CancellationPolicy.STRICT)
    consumer = user_factory()
    start = at_day(NOW, 3, 12)
    free = booking_order(consumer, service, start, now=NOW, paid=True)
    late = booking_order(consumer, service, start, now=NOW, paid=True)

    assert booking_cancel_by_consumer(order=free, actor=consumer, now=start - dt.timedelta(hours=48)) == Decimal(
        "200.00"
    )
    assert booking_cancel_by_consumer(order=late, actor=consumer, now=start - dt.timedelta(hours=47)) == Decimal(
        "100.00"
    )


def test_a_late_fee_is_rounded_half_up_to_cents(user_factory):
    service = ServiceFactory(price=Decimal("33.35"), cancellation_policy=CancellationPolicy.MODERATE)
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, now=NOW, paid=True)

    refund = booking_cancel_by_consumer(order=order, actor=consumer, now=TUESDAY_NOON - dt.timedelta(hours=2))

    order.refresh_from_db()
    assert order.booking.fee_kept == Decimal("10.01")  # 30 % of 33.35 = 10.005
    assert refund == Decimal("23.34")


def test_a_late_fee_applies_to_the_deposit_only(user_factory):
    service = ServiceFactory(
        prepayment=Service.Prepayment.DEPOSIT,
        price=Decimal("300.00"),
        deposit=Decimal("50.00"),
        cancellation_policy=CancellationPolicy.STRICT,
    )
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, now=NOW, paid=True)

    refund = booking_cancel_by_consumer(order=order, actor=consumer, now=TUESDAY_NOON - dt.timedelta(hours=1))

    assert refund == Decimal("25.00")


def test_a_booking_cannot_be_cancelled_by_the_consumer_once_started(user_factory):
    service = ServiceFactory()
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, now=NOW, paid=True)

    with pytest.raises(Conflict) as info:
        booking_cancel_by_consumer(order=order, actor=consumer, now=TUESDAY_NOON)

    assert info.value.code == "booking_started"
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED
    assert order.booking.fee_kept == Decimal("0.00")


# --- no-show, merchant cancellation, check-in ----------------------------------------------


@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        (CancellationPolicy.NONE, "0.00"),
        (CancellationPolicy.FLEXIBLE, "20.00"),
        (CancellationPolicy.FAIR, "60.00"),
        (CancellationPolicy.MODERATE, "100.00"),
        (CancellationPolicy.STRICT, "200.00"),
    ],
)
def test_a_no_show_keeps_the_no_show_fee(user_factory, policy, kept):
    service = ServiceFactory(price=Decimal("200.00"), cancellation_policy=policy)
    order = booking_order(user_factory(), service, TUESDAY_NOON, now=NOW, paid=True)
    clerk = user_factory()

    refund = booking_mark_no_show(order=order, actor=clerk, now=TUESDAY_NOON + dt.timedelta(minutes=30))

    assert refund == Decimal("200.00") - Decimal(kept)
    order.refresh_from_db()
    assert order.status == Order.Status.NO_SHOW
    assert order.booking.fee_kept == Decimal(kept)
    assert order.events.last().actor == clerk


def test_a_no_show_is_refused_before_the_start(user_factory):
    order = booking_order(user_factory(), ServiceFactory(), TUESDAY_NOON, now=NOW, paid=True)

    with pytest.raises(Conflict) as info:
        booking_mark_no_show(order=order, actor=None, now=TUESDAY_NOON - dt.timedelta(seconds=1))

    assert info.value.code == "not_started"
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED
    assert order.booking.fee_kept == Decimal("0.00")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_merchant_cancellation_needs_a_reason(user_factory, reason):
    order = booking_order(user_factory(), ServiceFactory(), TUESDAY_NOON, now=NOW, paid=True)

    with pytest.raises(Invalid) as info:
        booking_cancel_by_merchant(order=order, actor=user_factory(), reason=reason, now=NOW)

    assert (info.value.code, info.value.field) == ("reason_required", "reason")
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED


def test_a_merchant_cancellation_refunds_everything_even_late(user_factory):
    service = ServiceFactory(price=Decimal("200.00"), cancellation_policy=CancellationPolicy.STRICT)
    order = booking_order(user_factory(), service, TUESDAY_NOON, now=NOW, paid=True)
    owner = user_factory()

    refund = booking_cancel_by_merchant(
        order=order, actor=owner, reason="  Kitchen flooded  ", now=TUESDAY_NOON - dt.timedelta(minutes=30)
    )

    assert refund == Decimal("200.00")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED_BY_MERCHANT
    assert order.booking.fee_kept == Decimal("0.00")
    event = order.events.last()
    assert (event.actor, event.note) == (owner, "Kitchen flooded")
    assert load(service, TUESDAY_NOON) == 0


def test_check_in_then_complete(user_factory):
    order = booking_order(user_factory(), ServiceFactory(), TUESDAY_NOON, now=NOW, paid=True)
    clerk = user_factory()
    arrival = TUESDAY_NOON - dt.timedelta(minutes=5)

    booking_check_in(order=order, actor=clerk, now=arrival)
    booking_check_in(order=order, actor=clerk, now=arrival + dt.timedelta(minutes=1))  # a double tap
    booking_complete(order=order, now=TUESDAY_NOON + dt.timedelta(hours=1))

    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.booking.checked_in_at == arrival
    assert order.completed_at == TUESDAY_NOON + dt.timedelta(hours=1)
    assert [e.to_status for e in order.events.all()] == [
        Order.Status.PENDING_PAYMENT,
        Order.Status.CONFIRMED,
        Order.Status.CHECKED_IN,
        Order.Status.COMPLETED,
    ]


# --- rescheduling -----------------------------------------------------------------------------


def test_reschedule_moves_the_place_to_the_new_start(user_factory):
    service = ServiceFactory(capacity=10, capacity_per_person=True, duration_minutes=45)
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, party_size=3, now=NOW, paid=True)
    new_start = local(2030, 6, 5, 15)

    booking_reschedule(order=order, actor=consumer, start=new_start, now=NOW)

    booking = Booking.objects.get(order=order)
    assert booking.start == new_start
    assert booking.end == new_start + dt.timedelta(minutes=45)
    assert (load(service, TUESDAY_NOON), load(service, new_start)) == (0, 3)
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED
    assert "moved from" in order.events.last().note


def test_reschedule_to_a_full_slot_is_refused_and_keeps_the_old_place(user_factory):
    service = ServiceFactory(capacity=1)
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, now=NOW, paid=True)
    taken = local(2030, 6, 4, 14)
    booking_order(user_factory(), service, taken, now=NOW, paid=True)
    events_before = order.events.count()

    with pytest.raises(Conflict) as info:
        booking_reschedule(order=order, actor=consumer, start=taken, now=NOW)

    assert info.value.code == "slot_full"
    assert Booking.objects.get(order=order).start == TUESDAY_NOON
    assert (load(service, TUESDAY_NOON), load(service, taken)) == (1, 1)
    assert order.events.count() == events_before


def test_reschedule_to_a_time_that_is_not_a_slot_is_refused(user_factory):
    service = ServiceFactory()
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, now=NOW, paid=True)

    with pytest.raises(Invalid) as info:
        booking_reschedule(order=order, actor=consumer, start=local(2030, 6, 4, 12, 30), now=NOW)

    assert info.value.code == "not_a_slot"
    assert Booking.objects.get(order=order).start == TUESDAY_NOON
    assert load(service, TUESDAY_NOON) == 1


def test_a_cancelled_booking_cannot_be_rescheduled(user_factory):
    service = ServiceFactory()
    consumer = user_factory()
    order = booking_order(consumer, service, TUESDAY_NOON, now=NOW, paid=True)
    booking_cancel_by_consumer(order=order, actor=consumer, now=NOW)

    with pytest.raises(Conflict) as info:
        booking_reschedule(order=order, actor=consumer, start=local(2030, 6, 4, 14), now=NOW)

    assert info.value.code == "not_movable"
    assert load(service, local(2030, 6, 4, 14)) == 0
