"""order_create_for_deal: what a deal order snapshots and holds, and every way it refuses."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from merchants.models import Deal
from merchants.services import merchant_suspend
from o2o.errors import Conflict, Gone, Invalid, NotFound
from orders.models import DealQuota, Order, OrderEvent, OrderItem
from orders.services import order_cancel_unpaid, order_create_for_deal
from tests.factories.catalogue import NOW, DealFactory, deal_order
from tests.factories.merchants import CategoryFactory, MerchantFactory, StoreFactory

pytestmark = pytest.mark.django_db


def quota(deal, user):
    row = DealQuota.objects.filter(deal=deal, user=user).first()
    return row.units if row else 0


def state(deal, user):
    """Everything a refused order must leave untouched."""
    deal.refresh_from_db()
    return {
        "orders": Order.objects.count(),
        "items": OrderItem.objects.count(),
        "events": OrderEvent.objects.count(),
        "units_taken": deal.units_taken,
        "quota": quota(deal, user),
    }


def assert_refused(deal, user, error, code, **kwargs):
    """Try to buy; check the error's class, code and status, and that nothing changed."""
    kwargs.setdefault("quantity", 1)
    kwargs.setdefault("now", NOW)
    before = state(deal, user)
    with pytest.raises(error) as info:
        order_create_for_deal(user=user, deal_id=kwargs.pop("deal_id", deal.pk), **kwargs)
    assert info.value.code == code
    assert info.value.message  # a sentence a person can read
    assert state(deal, user) == before
    return info.value


# --- what an order records --------------------------------------------------------------


def test_deal_order_snapshots_unit_price_subtotal_and_total(user_factory):
    # given
    deal = DealFactory(price=Decimal("88.50"), stock=10)
    buyer = user_factory()

    # when
    order = order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=3, now=NOW)

    # then
    order.refresh_from_db()
    assert order.kind == Order.Kind.DEAL
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.user == buyer
    assert (order.merchant_id, order.store_id) == (deal.store.merchant_id, deal.store_id)
    assert order.subtotal == Decimal("265.50")
    assert order.total == Decimal("265.50")
    assert order.discount_merchant == order.discount_platform == Decimal("0.00")
    assert order.currency == "CNY"
    (item,) = order.items.all()
    assert (item.deal_id, item.title, item.unit_price, item.quantity, item.subtotal) == (
        deal.pk,
        deal.title,
        Decimal("88.50"),
        3,
        Decimal("265.50"),
    )


def test_order_keeps_its_price_when_the_deal_price_changes_later(user_factory):
    deal = DealFactory(price=Decimal("50.00"))
    order = deal_order(user_factory(), deal, 2, now=NOW)

    deal.price = Decimal("70.00")
    deal.save()

    order.refresh_from_db()
    assert order.total == Decimal("100.00")
    assert order.items.get().unit_price == Decimal("50.00")


def test_order_snapshots_the_merchants_own_commission_rate(user_factory):
    deal = DealFactory(store__merchant__commission_rate=Decimal("0.0725"))

    order = deal_order(user_factory(), deal, now=NOW)

    order.refresh_from_db()
    assert order.commission_rate == Decimal("0.0725")


def test_commission_rate_falls_back_to_the_category_then_its_parent(user_factory):
    parent = CategoryFactory(commission_rate=Decimal("0.0500"))
    child_with_rate = CategoryFactory(parent=parent, commission_rate=Decimal("0.0800"))
    child_without_rate = CategoryFactory(parent=parent, commission_rate=None)
    buyer = user_factory()

    on_child = deal_order(
        buyer, DealFactory(store__merchant=MerchantFactory(commission_rate=None, category=child_with_rate)), now=NOW
    )
    on_parent = deal_order(
        buyer, DealFactory(store__merchant=MerchantFactory(commission_rate=None, category=child_without_rate)), now=NOW
    )

    on_child.refresh_from_db()
    on_parent.refresh_from_db()
    assert on_child.commission_rate == Decimal("0.0800")
    assert on_parent.commission_rate == Decimal("0.0500")


def test_commission_rate_falls_back_to_the_platform_default(user_factory, settings):
    settings.DEFAULT_COMMISSION_RATE = Decimal("0.0450")
    merchant = MerchantFactory(commission_rate=None, category=CategoryFactory(commission_rate=None))
    deal = DealFactory(store__merchant=merchant)

    order = deal_order(user_factory(), deal, now=NOW)

    order.refresh_from_db()
    assert order.commission_rate == Decimal("0.0450")


def test_commission_rate_is_kept_when_the_merchants_rate_changes_later(user_factory):
    deal = DealFactory(store__merchant__commission_rate=Decimal("0.0600"))
    order = deal_order(user_factory(), deal, now=NOW)

    deal.store.merchant.commission_rate = Decimal("0.1000")
    deal.store.merchant.save()

    order.refresh_from_db()
    assert order.commission_rate == Decimal("0.0600")


def test_order_numbers_are_14_digits_starting_with_the_local_day_and_unique(user_factory):
    deal = DealFactory(stock=None, per_user_limit=100)
    buyer = user_factory()
    late_evening_utc = dt.datetime(2030, 6, 3, 17, 30, tzinfo=dt.UTC)  # already 4 June in Shanghai

    numbers = [deal_order(buyer, deal, now=late_evening_utc).number for _ in range(30)]

    assert all(re.fullmatch(r"\d{14}", n) for n in numbers), numbers
    assert all(n.startswith("300604") for n in numbers)
    assert len(set(numbers)) == 30


def test_payment_deadline_is_15_minutes_after_creation(user_factory):
    order = deal_order(user_factory(), DealFactory(), now=NOW)

    order.refresh_from_db()
    assert order.created_at == NOW
    assert order.payment_deadline == NOW + dt.timedelta(minutes=15)


def test_order_holds_stock_and_the_buyers_limit_and_records_its_creation(user_factory):
    deal = DealFactory(stock=10, per_user_limit=5)
    buyer = user_factory()

    order = deal_order(buyer, deal, 3, now=NOW)

    deal.refresh_from_db()
    assert deal.units_taken == 3
    assert deal.remaining == 7
    assert deal.units_sold == 0  # held, not sold
    assert quota(deal, buyer) == 3
    (event,) = order.events.all()
    assert (event.from_status, event.to_status, event.actor) == ("", Order.Status.PENDING_PAYMENT, buyer)


def test_cancelling_an_unpaid_order_releases_stock_and_limit(user_factory):
    deal = DealFactory(stock=5, per_user_limit=2)
    buyer = user_factory()
    order = deal_order(buyer, deal, 2, now=NOW)

    order_cancel_unpaid(order=order, actor=buyer, now=NOW + dt.timedelta(minutes=1))

    order.refresh_from_db()
    deal.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.cancel_reason == "consumer"
    assert deal.units_taken == 0
    assert quota(deal, buyer) == 0
    # ... and the buyer may buy up to the limit again
    assert deal_order(buyer, deal, 2, now=NOW + dt.timedelta(minutes=2)).status == Order.Status.PENDING_PAYMENT


def test_cancelling_an_unpaid_order_twice_releases_once(user_factory):
    deal = DealFactory(stock=5)
    buyer, other = user_factory(), user_factory()
    order = deal_order(buyer, deal, 2, now=NOW)
    deal_order(other, deal, 1, now=NOW)

    order_cancel_unpaid(order=order, actor=buyer, now=NOW)
    order_cancel_unpaid(order=order, actor=buyer, now=NOW)

    deal.refresh_from_db()
    assert deal.units_taken == 1  # the other buyer's unit is still held
    assert order.events.filter(to_status=Order.Status.CANCELLED).count() == 1


def test_unlimited_stock_sells_without_a_ceiling(user_factory):
    deal = DealFactory(stock=None, per_user_limit=10, max_per_order=10)

    for _ in range(12):
        deal_order(user_factory(), deal, 10, now=NOW)

    deal.refresh_from_db()
    assert deal.units_taken == 120
    assert deal.remaining is None
    assert Order.objects.count() == 12


# --- refusals: a clear error with its code, and nothing changed --------------------------


def test_sold_out_is_a_409_and_changes_nothing(user_factory):
    deal = DealFactory(stock=2)
    deal_order(user_factory(), deal, 2, now=NOW)

    error = assert_refused(deal, user_factory(), Conflict, "sold_out")

    assert error.status_code == 409
    assert error.field == "deal"


def test_asking_for_more_than_remains_is_sold_out_even_when_some_remain(user_factory):
    deal = DealFactory(stock=3)
    deal_order(user_factory(), deal, 2, now=NOW)
    buyer = user_factory()

    assert_refused(deal, buyer, Conflict, "sold_out", quantity=2)

    assert deal_order(buyer, deal, 1, now=NOW).items.get().quantity == 1
    deal.refresh_from_db()
    assert deal.remaining == 0


def test_per_user_limit_counts_every_order_of_the_buyer(user_factory):
    deal = DealFactory(stock=100, per_user_limit=3)
    buyer = user_factory()
    deal_order(buyer, deal, 2, now=NOW)
    deal_order(buyer, deal, 1, now=NOW, paid=True)

    error = assert_refused(deal, buyer, Conflict, "limit_reached")

    assert error.status_code == 409
    assert quota(deal, buyer) == 3
    # another person is not affected
    assert deal_order(user_factory(), deal, 3, now=NOW)


def test_per_user_limit_refuses_an_order_that_would_pass_it(user_factory):
    deal = DealFactory(stock=100, per_user_limit=3)
    buyer = user_factory()
    deal_order(buyer, deal, 2, now=NOW)

    assert_refused(deal, buyer, Conflict, "limit_reached", quantity=2)


def test_one_order_above_the_per_user_limit_is_refused(user_factory):
    deal = DealFactory(per_user_limit=2, max_per_order=10)

    assert_refused(deal, user_factory(), Conflict, "limit_reached", quantity=3)


@pytest.mark.parametrize("quantity", [0, -1, 101, 10**6, True, False, "2", 1.0, None])
def test_bad_quantity_is_refused(user_factory, quantity):
    deal = DealFactory(stock=None)

    error = assert_refused(deal, user_factory(), Invalid, "bad_quantity", quantity=quantity)

    assert error.status_code == 400
    assert error.field == "quantity"


def test_more_than_the_per_order_maximum_is_refused(user_factory):
    deal = DealFactory(max_per_order=2, per_user_limit=10)

    error = assert_refused(deal, user_factory(), Invalid, "over_order_limit", quantity=3)

    assert error.field == "quantity"


def test_a_sale_that_has_not_started_is_refused(user_factory):
    deal = DealFactory(sale_starts=NOW + dt.timedelta(seconds=1))

    error = assert_refused(deal, user_factory(), Invalid, "sale_not_started")

    assert error.status_code == 400
    # from the starting second on, it sells
    assert deal_order(user_factory(), deal, now=NOW + dt.timedelta(seconds=1))


@pytest.mark.parametrize("ended_ago", [dt.timedelta(0), dt.timedelta(days=3)])
def test_a_sale_that_has_ended_is_gone(user_factory, ended_ago):
    deal = DealFactory(sale_ends=NOW - ended_ago)

    error = assert_refused(deal, user_factory(), Gone, "sale_ended")

    assert error.status_code == 410


def test_a_deal_just_before_its_sale_ends_still_sells(user_factory):
    deal = DealFactory(sale_starts=NOW - dt.timedelta(days=1), sale_ends=NOW + dt.timedelta(seconds=1))

    assert deal_order(user_factory(), deal, now=NOW).status == Order.Status.PENDING_PAYMENT


def test_an_inactive_deal_is_not_found(user_factory):
    deal = DealFactory(is_active=False)

    error = assert_refused(deal, user_factory(), NotFound, "unknown_deal")

    assert error.status_code == 404


@pytest.mark.parametrize("deal_id", [999_999, "abc", None])
def test_an_unknown_deal_is_not_found(user_factory, deal_id):
    deal = DealFactory()

    assert_refused(deal, user_factory(), NotFound, "unknown_deal", deal_id=deal_id)


def test_a_deal_of_an_unpublished_store_is_not_found(user_factory):
    deal = DealFactory(store=StoreFactory(is_published=False))

    assert_refused(deal, user_factory(), NotFound, "store_unavailable")


def test_a_deal_of_a_suspended_merchant_is_not_found(user_factory):
    deal = DealFactory()
    merchant_suspend(merchant=deal.store.merchant, reason="Licence expired", acting_user=None)

    error = assert_refused(deal, user_factory(), NotFound, "store_unavailable")

    assert error.status_code == 404


# --- the sold-out shortcut for a flash sale's many losers (live requests: no `now=`) -----------


def live_buy(user, deal, quantity=1):
    return order_create_for_deal(user=user, deal_id=deal.pk, quantity=quantity)


def test_a_sold_out_answer_is_remembered_without_reading_the_deal(user_factory, django_assert_num_queries):
    deal = DealFactory(stock=1)
    live_buy(user_factory(), deal)
    first_loser, second_loser = user_factory(), user_factory()
    with pytest.raises(Conflict):
        live_buy(first_loser, deal)  # reads the deal, finds nothing to expire, remembers

    with django_assert_num_queries(0), pytest.raises(Conflict) as info:
        live_buy(second_loser, deal)

    assert info.value.code == "sold_out"


def test_stock_coming_back_clears_the_sold_out_flag_at_once(user_factory):
    deal = DealFactory(stock=1)
    holder = user_factory()
    order = live_buy(holder, deal)
    with pytest.raises(Conflict):
        live_buy(user_factory(), deal)

    order_cancel_unpaid(order=order, actor=holder)

    assert live_buy(user_factory(), deal).status == Order.Status.PENDING_PAYMENT


def test_a_caller_that_names_the_time_always_gets_the_databases_answer(user_factory):
    # given the last unit held by an unpaid order and a live refusal remembered
    deal = DealFactory(stock=1)
    abandoned = live_buy(user_factory(), deal)
    with pytest.raises(Conflict):
        live_buy(user_factory(), deal)

    # when a buyer comes after the hold's deadline
    order = deal_order(user_factory(), deal, now=abandoned.payment_deadline)

    # then the expired hold was freed for them
    assert order.status == Order.Status.PENDING_PAYMENT
    abandoned.refresh_from_db()
    assert abandoned.status == Order.Status.CANCELLED


def test_a_bad_quantity_is_reported_even_when_sold_out(user_factory):
    deal = DealFactory(stock=1)
    live_buy(user_factory(), deal)
    with pytest.raises(Conflict):
        live_buy(user_factory(), deal)

    with pytest.raises(Invalid) as info:
        live_buy(user_factory(), deal, quantity=0)

    assert info.value.code == "bad_quantity"


def test_some_units_left_are_not_remembered_as_sold_out(user_factory):
    deal = DealFactory(stock=3, per_user_limit=5)
    live_buy(user_factory(), deal, 2)
    buyer = user_factory()
    with pytest.raises(Conflict):
        live_buy(buyer, deal, 2)

    assert live_buy(buyer, deal, 1).status == Order.Status.PENDING_PAYMENT


def test_the_deal_never_holds_more_than_its_stock_in_the_database(user_factory):
    # The last line of defence under every service: a CHECK constraint.
    deal = DealFactory(stock=2)

    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.filter(pk=deal.pk).update(units_taken=3)

    deal.refresh_from_db()
    assert deal.units_taken == 0
