"""Order state machines (DESIGN §4): every legal move is recorded, every other move is refused."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from o2o.errors import Conflict, Invalid
from orders.models import Order, OrderEvent, SlotLoad
from orders.services import (
    booking_cancel_by_consumer,
    booking_cancel_by_merchant,
    booking_check_in,
    booking_complete,
    booking_mark_no_show,
    order_cancel_unpaid,
    order_mark_paid,
)
from tests.factories.catalogue import NOW, DealFactory, ServiceFactory, booking_order, deal_order, local

pytestmark = pytest.mark.django_db

S = Order.Status
START = local(2030, 6, 4, 12)
BEFORE_START = START - dt.timedelta(hours=2)
AFTER_START = START + dt.timedelta(minutes=30)

# DESIGN §4, written out independently of Order.TRANSITIONS.
BOOKING_MOVES = {
    (S.PENDING_PAYMENT, S.CONFIRMED),
    (S.PENDING_PAYMENT, S.CANCELLED),
    (S.CONFIRMED, S.CHECKED_IN),
    (S.CONFIRMED, S.CANCELLED_BY_CONSUMER),
    (S.CONFIRMED, S.CANCELLED_BY_MERCHANT),
    (S.CONFIRMED, S.NO_SHOW),
    (S.CHECKED_IN, S.COMPLETED),
}
DEAL_MOVES = {(S.PENDING_PAYMENT, S.PAID), (S.PENDING_PAYMENT, S.CANCELLED), (S.PAID, S.COMPLETED)}

BOOKING_STATES = [
    S.PENDING_PAYMENT,
    S.CANCELLED,
    S.CONFIRMED,
    S.CHECKED_IN,
    S.COMPLETED,
    S.CANCELLED_BY_CONSUMER,
    S.CANCELLED_BY_MERCHANT,
    S.NO_SHOW,
]

# What each booking action asks for, and how a member or the consumer triggers it.
ACTIONS = {
    "check_in": (S.CHECKED_IN, lambda order, actor: booking_check_in(order=order, actor=actor, now=BEFORE_START)),
    "complete": (S.COMPLETED, lambda order, actor: booking_complete(order=order, actor=actor, now=AFTER_START)),
    "no_show": (S.NO_SHOW, lambda order, actor: booking_mark_no_show(order=order, actor=actor, now=AFTER_START)),
    "consumer_cancel": (
        S.CANCELLED_BY_CONSUMER,
        lambda order, actor: booking_cancel_by_consumer(order=order, actor=actor, now=BEFORE_START),
    ),
    "merchant_cancel": (
        S.CANCELLED_BY_MERCHANT,
        lambda order, actor: booking_cancel_by_merchant(order=order, actor=actor, reason="Closed", now=BEFORE_START),
    ),
}


def booking_in(state, consumer):
    """A booking for START brought to `state` through the services."""
    service = ServiceFactory(price=Decimal("100.00"))
    order = booking_order(consumer, service, START, now=NOW, paid=state != S.PENDING_PAYMENT and state != S.CANCELLED)
    steps = {
        S.CANCELLED: lambda: order_cancel_unpaid(order=order, actor=consumer, now=NOW),
        S.CHECKED_IN: lambda: booking_check_in(order=order, actor=None, now=BEFORE_START),
        S.COMPLETED: lambda: (
            booking_check_in(order=order, actor=None, now=BEFORE_START),
            booking_complete(order=order, now=AFTER_START),
        ),
        S.CANCELLED_BY_CONSUMER: lambda: booking_cancel_by_consumer(order=order, actor=consumer, now=NOW),
        S.CANCELLED_BY_MERCHANT: lambda: booking_cancel_by_merchant(order=order, actor=None, reason="Closed", now=NOW),
        S.NO_SHOW: lambda: booking_mark_no_show(order=order, actor=None, now=AFTER_START),
    }
    if state in steps:
        steps[state]()
    order.refresh_from_db()
    assert order.status == state
    return order


def snapshot(order):
    order.refresh_from_db()
    booking = getattr(order, "booking", None) if order.kind == Order.Kind.BOOKING else None
    return {
        "status": order.status,
        "events": order.events.count(),
        "fee_kept": booking.fee_kept if booking else None,
        "checked_in_at": booking.checked_in_at if booking else None,
        "places": sum(SlotLoad.objects.values_list("taken", flat=True)),
    }


ILLEGAL_BOOKING_CASES = [
    (state, action)
    for state, action in itertools.product(BOOKING_STATES, ACTIONS)
    if (state, ACTIONS[action][0]) not in BOOKING_MOVES and state != ACTIONS[action][0]  # same state: a repeat
]


def test_the_model_allows_exactly_the_designed_moves():
    for kind, designed in ((Order.Kind.BOOKING, BOOKING_MOVES), (Order.Kind.DEAL, DEAL_MOVES)):
        for source, target in itertools.product(S, S):
            order = Order(kind=kind, status=source)
            assert order.can_move_to(target) == ((source, target) in designed), (kind, source, target)


@pytest.mark.parametrize(("state", "action"), ILLEGAL_BOOKING_CASES)
def test_an_illegal_booking_move_is_a_conflict_and_changes_nothing(user_factory, state, action):
    order = booking_in(state, user_factory())
    before = snapshot(order)

    with pytest.raises(Conflict) as info:
        ACTIONS[action][1](order, user_factory())

    assert info.value.code == "illegal_transition"
    assert info.value.status_code == 409
    assert snapshot(order) == before


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (source, action)
        for source, target in sorted(BOOKING_MOVES)
        for action in ACTIONS
        if ACTIONS[action][0] == target
    ],
)
def test_every_legal_booking_move_writes_one_event_with_its_actor(user_factory, state, action):
    order = booking_in(state, user_factory())
    actor = user_factory()
    events_before = order.events.count()

    ACTIONS[action][1](order, actor)

    order.refresh_from_db()
    assert order.status == ACTIONS[action][0]
    assert order.events.count() == events_before + 1
    event = order.events.last()
    assert (event.from_status, event.to_status, event.actor) == (state, ACTIONS[action][0], actor)


def test_a_deal_order_cannot_be_checked_in_marked_no_show_or_cancelled_by_the_merchant(user_factory):
    for paid in (False, True):
        order = deal_order(user_factory(), DealFactory(), now=NOW, paid=paid)
        before = snapshot(order)
        for action in ("check_in", "no_show", "merchant_cancel"):
            with pytest.raises(Conflict) as info:
                ACTIONS[action][1](order, None)
            assert info.value.code == "illegal_transition", (paid, action)
        assert snapshot(order) == before


def test_a_deal_order_is_not_cancelled_like_a_booking(user_factory):
    buyer = user_factory()
    order = deal_order(buyer, DealFactory(), now=NOW, paid=True)

    with pytest.raises(Invalid) as info:
        booking_cancel_by_consumer(order=order, actor=buyer, now=NOW)

    assert info.value.code == "not_a_booking"
    order.refresh_from_db()
    assert order.status == S.PAID


def test_completing_a_pending_order_is_illegal(user_factory):
    deal_pending = deal_order(user_factory(), DealFactory(), now=NOW)
    booking_pending = booking_order(user_factory(), ServiceFactory(), START, now=NOW)

    for order in (deal_pending, booking_pending):
        with pytest.raises(Conflict) as info:
            booking_complete(order=order, now=AFTER_START)
        assert info.value.code == "illegal_transition"
        order.refresh_from_db()
        assert order.status == S.PENDING_PAYMENT
        assert order.completed_at is None


def test_marking_a_cancelled_deal_order_paid_returns_false_and_sells_nothing(user_factory):
    buyer = user_factory()
    deal = DealFactory(stock=5)
    order = deal_order(buyer, deal, 2, now=NOW)
    order_cancel_unpaid(order=order, actor=buyer, now=NOW)
    events = order.events.count()

    assert order_mark_paid(order=order, now=NOW + dt.timedelta(minutes=1)) is False

    order.refresh_from_db()
    deal.refresh_from_db()
    deal.store.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.paid_at is None
    assert order.events.count() == events
    assert (deal.units_taken, deal.units_sold, deal.store.sales_count) == (0, 0, 0)


def test_an_unpaid_cancel_of_a_paid_order_is_refused(user_factory):
    buyer = user_factory()
    deal = DealFactory(stock=5)
    order = deal_order(buyer, deal, 2, now=NOW, paid=True)

    with pytest.raises(Conflict) as info:
        order_cancel_unpaid(order=order, actor=buyer, now=NOW)

    assert info.value.code == "not_pending"
    deal.refresh_from_db()
    assert deal.units_taken == 2


def test_every_step_of_a_deal_order_is_in_its_history(user_factory):
    buyer = user_factory()
    paid = deal_order(buyer, DealFactory(), now=NOW, paid=True)
    cancelled = deal_order(buyer, DealFactory(), now=NOW)
    order_cancel_unpaid(order=cancelled, actor=buyer, now=NOW + dt.timedelta(minutes=3))

    assert [(e.from_status, e.to_status) for e in paid.events.all()] == [
        ("", S.PENDING_PAYMENT),
        (S.PENDING_PAYMENT, S.PAID),
    ]
    assert [(e.from_status, e.to_status, e.actor, e.created_at) for e in cancelled.events.all()] == [
        ("", S.PENDING_PAYMENT, buyer, NOW),
        (S.PENDING_PAYMENT, S.CANCELLED, buyer, NOW + dt.timedelta(minutes=3)),
    ]


def test_marking_paid_twice_is_harmless_and_counts_the_sale_once(user_factory):
    # given an order for 3 units
    deal = DealFactory(stock=10)
    order = deal_order(user_factory(), deal, 3, now=NOW)

    # when the payment notification arrives twice
    first = order_mark_paid(order=order, now=NOW + dt.timedelta(minutes=1))
    second = order_mark_paid(order=order, now=NOW + dt.timedelta(minutes=2))

    # then both calls succeed and the sale is counted once
    assert (first, second) == (True, True)
    order.refresh_from_db()
    deal.refresh_from_db()
    deal.store.refresh_from_db()
    assert order.status == S.PAID
    assert order.paid_at == NOW + dt.timedelta(minutes=1)
    assert (deal.units_taken, deal.units_sold) == (3, 3)
    assert deal.store.sales_count == 1
    assert order.events.filter(to_status=S.PAID).count() == 1


def test_confirming_a_booking_twice_counts_it_once(user_factory):
    service = ServiceFactory()
    order = booking_order(user_factory(), service, START, now=NOW)

    assert order_mark_paid(order=order, now=NOW)
    assert order_mark_paid(order=order, now=NOW)

    order.refresh_from_db()
    service.store.refresh_from_db()
    assert order.status == S.CONFIRMED
    assert service.store.sales_count == 1
    assert OrderEvent.objects.filter(order=order, to_status=S.CONFIRMED).count() == 1
