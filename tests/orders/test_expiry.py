"""Holds (DESIGN §9): an unpaid order holds stock or a slot for 15 minutes, then lets go."""

import datetime as dt

import pytest
from django.utils import timezone

from o2o.errors import Conflict
from orders.models import DealQuota, Order, SlotLoad
from orders.services import order_expire, order_mark_paid, orders_expire_due
from orders.tasks import orders_expire_due_task
from tests.factories.catalogue import NOW, DealFactory, ServiceFactory, at_day, booking_order, deal_order

pytestmark = pytest.mark.django_db

LATER = NOW + dt.timedelta(minutes=15)  # the deadline of an order made at NOW


def quota(deal, user):
    row = DealQuota.objects.filter(deal=deal, user=user).first()
    return row.units if row else 0


def test_an_expired_hold_no_longer_blocks_the_next_buyer(user_factory):
    # given the last unit held by an order that was never paid
    deal = DealFactory(stock=1)
    first, second = user_factory(), user_factory()
    abandoned = deal_order(first, deal, now=NOW)

    # when someone buys after its deadline, before any expiry worker ran
    order = deal_order(second, deal, now=LATER)

    # then they get the unit, and the abandoned order is cancelled as expired
    assert order.status == Order.Status.PENDING_PAYMENT
    abandoned.refresh_from_db()
    assert abandoned.status == Order.Status.CANCELLED
    assert abandoned.cancel_reason == "expired"
    assert abandoned.cancelled_at == LATER
    deal.refresh_from_db()
    assert deal.units_taken == 1
    assert quota(deal, first) == 0
    assert quota(deal, second) == 1


def test_a_hold_within_its_15_minutes_still_blocks(user_factory):
    deal = DealFactory(stock=1)
    held = deal_order(user_factory(), deal, now=NOW)

    with pytest.raises(Conflict) as info:
        deal_order(user_factory(), deal, now=LATER - dt.timedelta(seconds=1))

    assert info.value.code == "sold_out"
    held.refresh_from_db()
    assert held.status == Order.Status.PENDING_PAYMENT


def test_an_expired_hold_of_some_units_frees_only_what_is_needed(user_factory):
    # given 3 units: 2 held by an abandoned order, 1 by a live one
    deal = DealFactory(stock=3)
    abandoned = deal_order(user_factory(), deal, 2, now=NOW)
    live = deal_order(user_factory(), deal, 1, now=LATER - dt.timedelta(minutes=1))

    # when a buyer asks for 2 after the first deadline
    deal_order(user_factory(), deal, 2, now=LATER)

    # then the abandoned order gave its units back; the live one keeps its unit
    abandoned.refresh_from_db()
    live.refresh_from_db()
    assert abandoned.status == Order.Status.CANCELLED
    assert live.status == Order.Status.PENDING_PAYMENT
    deal.refresh_from_db()
    assert deal.units_taken == 3


def test_per_user_limit_counts_pending_orders(user_factory):
    deal = DealFactory(stock=100, per_user_limit=2)
    buyer = user_factory()
    deal_order(buyer, deal, 2, now=NOW)  # not paid yet

    with pytest.raises(Conflict) as info:
        deal_order(buyer, deal, 1, now=NOW + dt.timedelta(minutes=5))

    assert info.value.code == "limit_reached"


def test_per_user_limit_frees_when_the_buyers_pending_order_expires(user_factory):
    # given a buyer whose unpaid orders hold the whole limit
    deal = DealFactory(stock=100, per_user_limit=2)
    buyer = user_factory()
    stale = deal_order(buyer, deal, 2, now=NOW)

    # when they buy again after the deadline
    fresh = deal_order(buyer, deal, 2, now=LATER)

    # then the stale order expired and the new one holds the limit
    stale.refresh_from_db()
    assert stale.status == Order.Status.CANCELLED
    assert stale.cancel_reason == "expired"
    assert fresh.status == Order.Status.PENDING_PAYMENT
    assert quota(deal, buyer) == 2
    deal.refresh_from_db()
    assert deal.units_taken == 2


def test_paid_units_keep_counting_towards_the_limit_after_the_deadline(user_factory):
    deal = DealFactory(stock=100, per_user_limit=2)
    buyer = user_factory()
    deal_order(buyer, deal, 2, now=NOW, paid=True)

    with pytest.raises(Conflict) as info:
        deal_order(buyer, deal, 1, now=NOW + dt.timedelta(days=1))

    assert info.value.code == "limit_reached"
    assert Order.objects.filter(status=Order.Status.CANCELLED).count() == 0


def test_orders_expire_due_run_twice_expires_once(user_factory):
    deal = DealFactory(stock=10)
    due = [deal_order(user_factory(), deal, 2, now=NOW) for _ in range(3)]
    not_due = deal_order(user_factory(), deal, 1, now=NOW + dt.timedelta(minutes=5))

    assert orders_expire_due(now=LATER) == 3
    assert orders_expire_due(now=LATER) == 0

    deal.refresh_from_db()
    assert deal.units_taken == 1
    for order in due:
        order.refresh_from_db()
        assert order.status == Order.Status.CANCELLED
        assert order.events.filter(to_status=Order.Status.CANCELLED).count() == 1
    not_due.refresh_from_db()
    assert not_due.status == Order.Status.PENDING_PAYMENT


def test_order_expire_on_a_paid_order_does_nothing(user_factory):
    deal = DealFactory(stock=5)
    order = deal_order(user_factory(), deal, 2, now=NOW, paid=True)

    assert order_expire(order_id=order.pk, now=LATER + dt.timedelta(hours=1)) is False

    order.refresh_from_db()
    deal.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.cancelled_at is None
    assert deal.units_taken == 2
    assert deal.units_sold == 2


def test_order_expire_before_the_deadline_does_nothing(user_factory):
    order = deal_order(user_factory(), DealFactory(), now=NOW)

    assert order_expire(order_id=order.pk, now=LATER - dt.timedelta(seconds=1)) is False

    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_payment_after_expiry_is_refused_so_the_money_is_returned(user_factory):
    deal = DealFactory(stock=1)
    order = deal_order(user_factory(), deal, now=NOW)
    orders_expire_due(now=LATER)

    assert order_mark_paid(order=order, now=LATER + dt.timedelta(minutes=1)) is False

    order.refresh_from_db()
    deal.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.paid_at is None
    assert (deal.units_taken, deal.units_sold) == (0, 0)


def test_expire_task_cancels_due_orders_and_releases_their_stock(user_factory):
    # given orders made 20 and 5 minutes ago (the task uses the real clock)
    deal = DealFactory(stock=10)
    real_now = timezone.now()
    due = deal_order(user_factory(), deal, 3, now=real_now - dt.timedelta(minutes=20))
    fresh = deal_order(user_factory(), deal, 1, now=real_now - dt.timedelta(minutes=5))

    # when the periodic task runs (eagerly in tests)
    result = orders_expire_due_task.delay()

    # then only the due order is cancelled
    assert result.get() == 1
    due.refresh_from_db()
    fresh.refresh_from_db()
    deal.refresh_from_db()
    assert due.status == Order.Status.CANCELLED
    assert due.cancel_reason == "expired"
    assert fresh.status == Order.Status.PENDING_PAYMENT
    assert deal.units_taken == 1


# --- booking holds ---------------------------------------------------------------------


def test_an_expired_booking_hold_frees_the_slot_for_the_next_consumer(user_factory):
    service = ServiceFactory(capacity=1)
    start = at_day(NOW, 2, 12)
    abandoned = booking_order(user_factory(), service, start, now=NOW)

    booked = booking_order(user_factory(), service, start, now=LATER)

    assert booked.status == Order.Status.PENDING_PAYMENT
    abandoned.refresh_from_db()
    assert abandoned.status == Order.Status.CANCELLED
    assert abandoned.cancel_reason == "expired"
    assert abandoned.booking.holds_slot is False
    assert SlotLoad.objects.get(service=service, start=start).taken == 1


def test_a_booking_hold_within_its_15_minutes_keeps_the_slot(user_factory):
    service = ServiceFactory(capacity=1)
    start = at_day(NOW, 2, 12)
    booking_order(user_factory(), service, start, now=NOW)

    with pytest.raises(Conflict) as info:
        booking_order(user_factory(), service, start, now=LATER - dt.timedelta(seconds=1))

    assert info.value.code == "slot_full"
    assert Order.objects.count() == 1


def test_expiring_a_booking_releases_its_places(user_factory):
    service = ServiceFactory(capacity=6, capacity_per_person=True, max_party=6)
    start = at_day(NOW, 1, 15)
    booking_order(user_factory(), service, start, party_size=4, now=NOW)
    booking_order(user_factory(), service, start, party_size=1, now=NOW + dt.timedelta(minutes=10))

    assert orders_expire_due(now=LATER) == 1

    assert SlotLoad.objects.get(service=service, start=start).taken == 1
