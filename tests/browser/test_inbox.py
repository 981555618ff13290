"""A paid order reaches the consumer's inbox and the merchant owner's, each in their own
language, with the unread badge in the header; opening a message reads it."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orders import services as order_services
from tests.factories.catalogue import DealFactory
from tests.factories.merchants import MemberFactory, StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base_url, username, password):
    page.goto(f"{base_url}/accounts/sign-in/")
    page.get_by_label("Username, e-mail or phone").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()


def test_a_paid_order_shows_up_in_both_inboxes_in_each_ones_language(
    live_server, page, browser, user_factory, password, settings
):
    settings.SANDBOX_DUPLICATE_RATE = 0
    # given a merchant whose owner reads Chinese, and a consumer who reads English
    owner = user_factory(username="wang", language="zh-hans")
    store = StoreFactory(name="老王火锅")
    MemberFactory(user=owner, merchant=store.merchant)
    deal = DealFactory(store=store, title="Hotpot for two", price=Decimal("99.00"))
    buyer = user_factory(username="nina", language="en")
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)

    # when the consumer pays on the sandbox gateway's page
    sign_in(page, live_server.url, "nina", password)
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    expect(page.locator(".inbox-link .badge")).to_have_count(0)
    page.get_by_role("button", name="Pay ¥99.00").click()
    page.get_by_role("button", name="Pay now").click()

    # then the header counts one unread message, in English, which opening reads
    page.goto(f"{live_server.url}/")
    expect(page.locator(".inbox-link .badge")).to_have_text("1")
    page.locator(".inbox-link").click()
    item = page.locator("li.notification.unread")
    expect(item).to_contain_text("Payment received: 老王火锅")
    item.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Payment received: 老王火锅")).to_be_visible()
    expect(page.locator(".inbox-link .badge")).to_have_count(0)
    page.get_by_role("link", name="View details").click()
    expect(page).to_have_url(f"{live_server.url}{order.get_absolute_url()}")

    # and the owner, in another browser, has the new order in Chinese
    owner_context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    owner_page = owner_context.new_page()
    sign_in(owner_page, live_server.url, "wang", password)
    expect(owner_page.locator(".inbox-link .badge")).to_have_text("1")
    owner_page.locator(".inbox-link").click()
    expect(owner_page.locator("li.notification.unread")).to_contain_text("新订单：Hotpot for two × 1")
    owner_page.get_by_role("button", name="Mark all as read").click()
    expect(owner_page.locator("li.notification.unread")).to_have_count(0)
    expect(owner_page.locator(".inbox-link .badge")).to_have_count(0)
    owner_context.close()
