"""DESIGN §6 on PostgreSQL with real threads: stock, per-user limits and slot places are never
exceeded, and an expiry racing a late payment leaves one consistent outcome.

Each scenario runs ROUNDS times (a race that is lost only now and then still shows up),
inside one test, because a transactional test's clean-up truncates every table and costs
more than a round.
"""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from o2o.errors import Conflict
from orders.models import DealQuota, Order, OrderEvent, SlotLoad
from orders.services import order_create_for_booking, order_create_for_deal, order_expire, order_mark_paid
from tests.factories.catalogue import DealFactory, ServiceFactory, at_day, deal_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 20
BUYERS = 40  # threads at once: 2 cores, and well under PostgreSQL's max_connections (100)


class Racers:
    """A pool of threads, each with its own database connection, that start calls together.

    The threads (and their connections) live for the whole test so that a round measures the
    race, not connecting; every thread closes its connection at the end.
    """

    def __init__(self, size):
        self.size = size
        self.pool = ThreadPoolExecutor(max_workers=size)

    def race(self, calls):
        """Run each callable in its own thread, all released at once by a barrier. Returns
        ("ok", result) or ("error", exception) per call, in order."""
        assert len(calls) <= self.size
        barrier = threading.Barrier(len(calls))

        def run(call):
            connection.ensure_connection()  # connected before the start: the race is the call
            barrier.wait(timeout=30)
            try:
                return "ok", call()
            except Exception as exc:  # every outcome is inspected by the test
                return "error", exc

        return [future.result() for future in [self.pool.submit(run, call) for call in calls]]

    def close(self):
        # One call per thread (the barrier keeps any thread from taking two): each closes its own.
        barrier = threading.Barrier(self.size)

        def close_connection():
            barrier.wait(timeout=30)
            connection.close()

        for future in [self.pool.submit(close_connection) for _ in range(self.size)]:
            future.result()
        self.pool.shutdown()


@pytest.fixture
def racers():
    pool = Racers(BUYERS)
    yield pool
    pool.close()


def make_users(prefix, n):
    User = get_user_model()
    return User.objects.bulk_create([User(username=f"{prefix}-{i}", password="!") for i in range(n)])


def codes(outcomes):
    """The error codes of the losers; anything but a domain Conflict is a bug."""
    errors = [value for kind, value in outcomes if kind == "error"]
    unexpected = [e for e in errors if not isinstance(e, Conflict)]
    assert not unexpected, unexpected
    return sorted({e.code for e in errors})


def test_a_flash_sale_never_sells_more_than_the_stock(racers):
    for round_ in range(ROUNDS):
        flash_sale_round(racers, round_)


def flash_sale_round(racers, round_):
    # given a deal with 10 units and 40 different buyers
    stock = 10
    deal = DealFactory(stock=stock, per_user_limit=1)
    buyers = make_users(f"flash{round_}", BUYERS)

    # when they all press "buy" at the same moment
    outcomes = racers.race([lambda u=u: order_create_for_deal(user=u, deal_id=deal.pk, quantity=1) for u in buyers])

    # then exactly `stock` of them hold a unit and every other one was told "sold out"
    winners = [value for kind, value in outcomes if kind == "ok"]
    assert len(winners) == stock
    assert codes(outcomes) == ["sold_out"]
    deal.refresh_from_db()
    assert deal.units_taken == stock
    assert Order.objects.filter(items__deal=deal).count() == stock
    assert {o.user_id for o in winners} == set(Order.objects.filter(items__deal=deal).values_list("user_id", flat=True))
    assert DealQuota.objects.filter(deal=deal).aggregate(total=Sum("units"))["total"] == stock


def test_one_buyer_racing_many_orders_never_passes_the_per_user_limit(racers):
    for round_ in range(ROUNDS):
        greedy_buyer_round(racers, round_)


def greedy_buyer_round(racers, round_):
    # given one buyer, a limit of 2 and plenty of stock
    deal = DealFactory(stock=100, per_user_limit=2)
    (buyer,) = make_users(f"greedy{round_}", 1)

    # when 20 orders of theirs arrive at once (a script, or many taps)
    outcomes = racers.race([lambda: order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1) for _ in range(20)])

    # then exactly 2 units are held and the rest were refused for the limit
    assert sum(kind == "ok" for kind, _value in outcomes) == 2
    assert codes(outcomes) == ["limit_reached"]
    deal.refresh_from_db()
    assert deal.units_taken == 2
    assert Order.objects.filter(user=buyer).count() == 2
    assert DealQuota.objects.get(deal=deal, user=buyer).units == 2


def test_a_slot_is_never_overbooked(racers):
    for round_ in range(ROUNDS):
        slot_round(racers, round_)


def slot_round(racers, round_):
    # given a slot with 3 places and 30 people who want it
    service = ServiceFactory(capacity=3)
    start = at_day(timezone.now(), 2, 12)
    people = make_users(f"slot{round_}", 30)

    # when they all book it at once
    outcomes = racers.race(
        [lambda u=u: order_create_for_booking(user=u, service_id=service.pk, start=start, party_size=2) for u in people]
    )

    # then exactly 3 hold a place
    assert sum(kind == "ok" for kind, _value in outcomes) == 3
    assert codes(outcomes) == ["slot_full"]
    assert SlotLoad.objects.get(service=service, start=start).taken == 3
    assert Order.objects.filter(booking__service=service).count() == 3


def test_expiry_racing_a_late_payment_ends_paid_or_cancelled_never_both(racers):
    for round_ in range(ROUNDS):
        late_payment_round(racers, round_)


def late_payment_round(racers, round_):
    # given an order whose 15 minutes have just run out
    deal = DealFactory(stock=1, per_user_limit=1)
    (buyer,) = make_users(f"late{round_}", 1)
    now = timezone.now()
    order = deal_order(buyer, deal, now=now - dt.timedelta(minutes=15))

    # when the expiry worker and the payment notification arrive together
    (expire_kind, expired), (pay_kind, paid) = racers.race(
        [lambda: order_expire(order_id=order.pk, now=now), lambda: order_mark_paid(order=order, now=now)]
    )

    # then exactly one of them won, and the holds agree with the winner
    assert (expire_kind, pay_kind) == ("ok", "ok")
    assert expired != paid
    order.refresh_from_db()
    deal.refresh_from_db()
    quota = DealQuota.objects.get(deal=deal, user=buyer).units
    transitions = list(
        OrderEvent.objects.filter(order=order).exclude(from_status="").values_list("to_status", flat=True)
    )
    if paid:
        assert order.status == Order.Status.PAID
        assert (order.paid_at, order.cancelled_at) == (now, None)
        assert (deal.units_taken, deal.units_sold, quota) == (1, 1, 1)
        assert transitions == [Order.Status.PAID]
    else:
        assert order.status == Order.Status.CANCELLED
        assert order.paid_at is None
        assert order.cancel_reason == "expired"
        assert (deal.units_taken, deal.units_sold, quota) == (0, 0, 0)
        assert transitions == [Order.Status.CANCELLED]
