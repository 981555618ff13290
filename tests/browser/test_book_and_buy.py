"""A consumer, on a phone, books a slot from the store page and buys a deal up to checkout."""

import re

import pytest
from playwright.sync_api import expect

from orders.models import Order
from tests.browser.test_pay import sign_in
from tests.factories.catalogue import DealFactory, ServiceFactory
from tests.factories.merchants import StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_book_a_slot_and_buy_a_deal_from_the_store_page(live_server, page, user_factory, password):
    store = StoreFactory(name="Little Sheep Hotpot")
    ServiceFactory(store=store, name="Private room", capacity=1, max_party=6)
    DealFactory(store=store, title="Hotpot for two", stock=5)
    buyer = user_factory(username="bea")
    sign_in(page, live_server.url, "bea", password)

    # booking: store page → choose a time → tomorrow → party of 3 → a slot → book
    page.goto(f"{live_server.url}{store.get_absolute_url()}")
    page.get_by_role("link", name="Choose a time").click()
    page.locator(".date-strip a").nth(1).click()
    page.select_option("#party", "3")
    page.get_by_role("button", name="Update").click()
    page.get_by_test_id("slot").first.click()
    expect(page.get_by_text("Free cancellation until 24 hours before the start.")).to_be_visible()
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_test_id("order-status")).to_have_text("Awaiting payment")
    booking = Order.objects.get(user=buyer, kind="booking").booking
    assert booking.party_size == 3

    # deal: store page → buy → quantity 2 → place order → countdown and pay button
    page.goto(f"{live_server.url}{store.get_absolute_url()}")
    page.get_by_test_id("deal").get_by_role("link", name="Buy").click()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("button", name="Pay ¥176.00")).to_be_visible()
    expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    assert Order.objects.get(user=buyer, kind="deal").items.get().quantity == 2
