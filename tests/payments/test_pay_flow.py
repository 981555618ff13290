"""The whole road from an order to vouchers, through the sandbox gateway's hosted page and
its signed notification, as a payer's browser and the gateway would drive it."""

from decimal import Decimal

import pytest

from coupons.models import Voucher
from merchants.models import Deal
from o2o.errors import Conflict
from orders import services as order_services
from orders.models import Order
from payments.models import GatewayEvent, LedgerEntry, Payment, SandboxCharge
from payments.reconcile import run_checks
from payments.services import payment_start
from tests.factories.merchants import StoreFactory
from tests.factories.payments import build_url, pay

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_delivery(settings):
    settings.SANDBOX_DUPLICATE_RATE = 0


@pytest.fixture
def deal():
    return Deal.objects.create(
        store=StoreFactory(), title="Hotpot for two", price=Decimal("99.00"), original_price=Decimal("168.00"), stock=10
    )


def test_paying_in_the_sandbox_makes_vouchers(client, user_factory, deal):
    # given an unpaid order for 3 units
    buyer = user_factory()
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=3)
    client.force_login(buyer)

    # when the buyer pays on the hosted page
    response = client.post(f"/orders/{order.number}/pay/")
    assert response.status_code == 302
    charge = SandboxCharge.objects.get()
    assert response.url == f"/sandbox-gateway/pay/{charge.transaction_id}/"
    page = client.get(response.url)
    assert "297.00" in page.content.decode()
    back = client.post(response.url, {"outcome": "succeed"})

    # then the order is paid, three vouchers exist, the ledger balances
    order.refresh_from_db()
    assert order.status == "paid"
    vouchers = list(Voucher.objects.filter(order=order))
    assert len(vouchers) == 3
    assert sum(v.amount for v in vouchers) == Decimal("297.00")
    assert all(len(v.code) == 12 for v in vouchers)
    assert GatewayEvent.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert run_checks() == []
    result = client.get(back.url)
    assert result.status_code == 200
    detail = client.get(order.get_absolute_url()).content.decode()
    assert vouchers[0].code[:4] in detail and "<svg" in detail


def test_refunding_one_voucher_returns_its_amount(client, user_factory, deal, django_capture_on_commit_callbacks):
    buyer = user_factory()
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=2)
    client.force_login(buyer)
    pay_url = client.post(f"/orders/{order.number}/pay/").url
    client.post(pay_url, {"outcome": "succeed"})
    voucher = Voucher.objects.filter(order=order).first()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/orders/{order.number}/refund/", {"vouchers": [voucher.pk]})

    assert response.status_code == 302
    voucher.refresh_from_db()
    assert voucher.status == "refunded"
    assert voucher.refund.status == "succeeded"
    assert voucher.refund.amount == Decimal("99.00")
    deal.refresh_from_db()
    assert deal.units_taken == 1
    assert Payment.objects.get().refunds.count() == 1
    assert run_checks() == []


def test_a_page_opened_before_the_order_was_paid_cannot_start_a_second_payment(user_factory, deal):
    """Race: the order was read as unpaid (an old tab), then paid, then "Pay" pressed there.
    A second payment would take the payer's money twice; it is refused under the lock."""
    buyer = user_factory()
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)
    stale = Order.objects.get(pk=order.pk)
    pay(order)
    assert order.status == "paid" and stale.status == "pending_payment"

    with pytest.raises(Conflict) as refused:
        payment_start(order=stale, user=buyer, build_url=build_url)

    assert refused.value.code == "not_pending"
    assert Payment.objects.count() == 1 and SandboxCharge.objects.count() == 1


def test_declining_on_the_hosted_page_leaves_the_order_payable(client, user_factory, deal):
    buyer = user_factory()
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)
    client.force_login(buyer)
    pay_url = client.post(f"/orders/{order.number}/pay/").url

    back = client.post(pay_url, {"outcome": "fail"})
    result = client.get(back.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Payment failed" in result
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert Payment.objects.get().status == "failed"
    assert not Voucher.objects.exists() and not LedgerEntry.objects.exists()
    # paying again opens a fresh hosted page, and this time it works
    again = client.post(f"/orders/{order.number}/pay/").url
    assert again != pay_url
    client.post(again, {"outcome": "succeed"})
    order.refresh_from_db()
    assert order.status == "paid"
    assert Payment.objects.filter(status="succeeded").count() == 1
    assert run_checks() == []


def test_the_hosted_page_refuses_an_unknown_outcome(client, user_factory, deal):
    buyer = user_factory()
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)
    client.force_login(buyer)
    pay_url = client.post(f"/orders/{order.number}/pay/").url

    response = client.post(pay_url, {"outcome": "maybe"})

    assert response.status_code == 400
    assert SandboxCharge.objects.get().status == "open"
    order.refresh_from_db()
    assert order.status == "pending_payment"
