"""Buying a deal in a real browser: checkout, the countdown, the sandbox gateway's page, the
result page, the vouchers with their QR codes, and refunding one of them.

The live server runs Celery eagerly and delivers the sandbox's signed notification in-process,
so the order is paid by the same notification an outside gateway would send.
"""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from coupons.models import Voucher
from orders.models import Order
from payments.models import GatewayEvent, Refund, SandboxRefund
from payments.reconcile import run_checks
from tests.factories.catalogue import DealFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = re.compile(r"^[1-9]\d{3} \d{4} \d{4}$")


@pytest.fixture(autouse=True)
def _one_delivery(settings):
    settings.SANDBOX_DUPLICATE_RATE = 0
    settings.SANDBOX_REFUND_FAILURE_RATE = 0.0


def sign_in(page, base_url, username, password):
    page.goto(f"{base_url}/accounts/sign-in/")
    page.get_by_label("Username, e-mail or phone").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()


def test_buy_pay_get_vouchers_and_refund_one(live_server, page, user_factory, password):
    # given a deal on sale and a signed-in consumer
    deal = DealFactory(title="Hotpot for two", price=Decimal("88.00"), stock=10)
    user_factory(username="mei")
    sign_in(page, live_server.url, "mei", password)

    # the consumer orders two units
    page.goto(f"{live_server.url}/checkout/deal/{deal.pk}/")
    expect(page.get_by_role("heading", name="Hotpot for two")).to_be_visible()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Place order").click()

    # and sees the unpaid order with its countdown and the pay button
    expect(page.get_by_test_id("order-status")).to_have_text("Awaiting payment")
    expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"^1[0-4]:[0-5]\d$"))  # ticking, JS ran
    pay_button = page.get_by_role("button", name="Pay ¥176.00")
    expect(pay_button).to_be_visible()
    order = Order.objects.get()
    pay_button.click()

    # the sandbox gateway's hosted page shows the amount; the consumer pays
    expect(page.get_by_role("heading", name="Sandbox Pay")).to_be_visible()
    expect(page.get_by_test_id("amount")).to_have_text("CNY 176.00")
    page.get_by_role("button", name="Pay now").click()

    # and comes back to the result page: the signed notification has already paid the order
    expect(page.get_by_role("heading", name="Payment successful")).to_be_visible()
    assert GatewayEvent.objects.count() == 1
    page.get_by_role("link", name="View the order").click()

    # the order shows two vouchers, each with a 12-digit code in groups of four and a QR code
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    vouchers = page.get_by_test_id("voucher")
    expect(vouchers).to_have_count(2)
    codes = [text.strip() for text in page.get_by_test_id("voucher-code").all_inner_texts()]
    assert all(CODE.match(code) for code in codes), codes
    assert {code.replace(" ", "") for code in codes} == set(Voucher.objects.values_list("code", flat=True))
    expect(page.locator(".voucher .qr svg")).to_have_count(2)

    # the consumer ticks the first voucher and refunds it
    first = vouchers.filter(has_text=codes[0])
    first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Refund selected vouchers").click()

    # and sees it refunded, the other still valid, and the refund listed
    expect(page.get_by_text("¥88.00 is on its way back to your payment method.")).to_be_visible()
    refunded = page.get_by_test_id("voucher").filter(has_text=codes[0])
    expect(refunded).to_have_class(re.compile(r"voucher-refunded"))
    expect(refunded).to_contain_text("Refunded")
    expect(refunded.locator("svg")).to_have_count(0)  # no QR code for a voucher that cannot be used
    expect(page.get_by_test_id("voucher").filter(has_text=codes[1])).to_contain_text("Valid")
    refunds = page.locator("section", has=page.get_by_role("heading", name="Refunds"))
    expect(refunds).to_contain_text("Requested by the consumer")
    expect(refunds).to_contain_text("¥88.00")
    expect(refunds).to_contain_text("Refunded")

    # behind the page: one refund, sent to the gateway once, and the books agree
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    refund = Refund.objects.get()
    assert (refund.amount, refund.status) == (Decimal("88.00"), Refund.Status.SUCCEEDED)
    assert SandboxRefund.objects.count() == 1
    assert run_checks() == []
