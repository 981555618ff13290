"""The money endpoints of API v1 (DESIGN §10): pay, the vouchers a paid order lists, refund and
cancel, answered with the contract's fields and status codes, and scoped to the caller."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from merchants.models import MerchantMember
from orders import services as order_services
from orders.models import Order, SlotLoad
from payments.models import LedgerEntry, Payment, Refund, SandboxCharge
from tests.factories.catalogue import DealFactory, ServiceFactory, at_day
from tests.factories.merchants import MemberFactory
from tests.factories.payments import assert_books_clean, gateway_cash, paid_booking_order, paid_deal_order

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def api_for(user):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def _one_delivery(settings):
    settings.SANDBOX_DUPLICATE_RATE = 0


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def buyer(user_factory):
    return user_factory()


@pytest.fixture
def deal():
    return DealFactory(price=Decimal("39.90"), stock=10)


@pytest.fixture
def unpaid(buyer, deal):
    return order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=2)


# --- POST /orders/{id}/pay/ -----------------------------------------------------------------------


def test_pay_answers_the_payment_and_the_absolute_url_of_the_hosted_page(buyer, unpaid):
    response = api_for(buyer).post(f"{ORDERS}{unpaid.pk}/pay/")

    assert response.status_code == 200
    body = response.json()
    payment = Payment.objects.get()
    charge = SandboxCharge.objects.get()
    assert body == {
        "payment": payment.reference,
        "pay_url": f"http://testserver/sandbox-gateway/pay/{charge.transaction_id}/",
    }
    assert payment.amount == charge.amount == Decimal("79.80")
    assert payment.status == Payment.Status.CREATED
    assert charge.notify_url == "http://testserver/payments/notify/sandbox/"
    assert charge.return_url == f"http://testserver/payments/{payment.reference}/return/"


def test_asking_to_pay_twice_reuses_the_waiting_payment(buyer, unpaid):
    first = api_for(buyer).post(f"{ORDERS}{unpaid.pk}/pay/").json()
    second = api_for(buyer).post(f"{ORDERS}{unpaid.pk}/pay/").json()

    assert first == second
    assert Payment.objects.count() == 1 and SandboxCharge.objects.count() == 1


def test_pay_with_a_token(buyer, unpaid):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=buyer).key}")

    assert client.post(f"{ORDERS}{unpaid.pk}/pay/").status_code == 200


def test_the_whole_road_through_the_api_and_the_hosted_page(client, buyer, deal):
    api = api_for(buyer)
    created = api.post(ORDERS, {"deal": deal.pk, "quantity": 2}, format="json").json()
    assert api.get(f"{ORDERS}{created['id']}/").json()["vouchers"] == []
    pay_url = api.post(f"{ORDERS}{created['id']}/pay/").json()["pay_url"]

    page = client.get(pay_url)
    assert "CNY 79.80" in page.content.decode()
    back = client.post(pay_url, {"outcome": "succeed"})  # the gateway notifies the platform

    assert back.status_code == 302
    order = api.get(f"{ORDERS}{created['id']}/").json()
    assert order["status"] == "paid"
    assert len(order["vouchers"]) == 2
    assert gateway_cash() == Decimal("79.80")
    assert_books_clean()


def test_paying_an_order_whose_time_ran_out_is_410_and_cancels_it(buyer, deal):
    order = order_services.order_create_for_deal(
        user=buyer, deal_id=deal.pk, quantity=1, now=timezone.now() - dt.timedelta(minutes=16)
    )

    response = api_for(buyer).post(f"{ORDERS}{order.pk}/pay/")

    assert response.status_code == 410
    assert response.json()["code"] == "payment_expired"
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    deal.refresh_from_db()
    assert deal.units_taken == 0
    assert not Payment.objects.exists()


def test_paying_an_order_the_expiry_worker_already_cancelled_is_also_410(buyer, deal):
    order = order_services.order_create_for_deal(
        user=buyer, deal_id=deal.pk, quantity=1, now=timezone.now() - dt.timedelta(minutes=16)
    )
    assert order_services.orders_expire_due(now=timezone.now()) == 1

    response = api_for(buyer).post(f"{ORDERS}{order.pk}/pay/")

    assert response.status_code == 410
    assert response.json()["code"] == "payment_expired"
    assert not Payment.objects.exists()


def test_paying_an_order_the_buyer_cancelled_is_409(buyer, unpaid):
    order_services.order_cancel_unpaid(order=unpaid, actor=buyer)

    response = api_for(buyer).post(f"{ORDERS}{unpaid.pk}/pay/")

    assert response.status_code == 409
    assert response.json()["code"] == "not_pending"


def test_paying_a_paid_order_again_is_409(buyer, deal):
    order = paid_deal_order(buyer, deal, 1)

    response = api_for(buyer).post(f"{ORDERS}{order.pk}/pay/")

    assert response.status_code == 409
    assert response.json()["code"] == "not_pending"
    assert Payment.objects.count() == 1


def test_another_users_order_cannot_be_paid(user_factory, unpaid):
    response = api_for(user_factory()).post(f"{ORDERS}{unpaid.pk}/pay/")

    assert response.status_code == 404
    assert not Payment.objects.exists()


def test_anonymous_callers_are_refused(api_client, unpaid):
    for path in ("pay", "refund", "cancel"):
        assert api_client.post(f"{ORDERS}{unpaid.pk}/{path}/").status_code in (401, 403)
    assert not Payment.objects.exists()


# --- GET /orders/{id}/ vouchers ---------------------------------------------------------------------


def test_a_paid_order_lists_its_vouchers(buyer, deal):
    order = paid_deal_order(buyer, deal, 3)

    body = api_for(buyer).get(f"{ORDERS}{order.pk}/").json()

    vouchers = body["vouchers"]
    assert len(vouchers) == 3
    expected = {v.pk: v for v in order.vouchers.all()}
    for item in vouchers:
        voucher = expected.pop(item["id"])
        assert {"id", "code", "status", "valid_until"} <= item.keys()
        assert item["code"] == voucher.code and re.fullmatch(r"[1-9]\d{11}", item["code"])
        assert item["status"] == "valid"
        assert parse_datetime(item["valid_until"]) == voucher.valid_until
    assert expected == {}
    assert sum(Decimal(v["amount"]) for v in vouchers) == Decimal(body["total"])


def test_the_order_list_shows_the_vouchers_too(buyer, deal):
    paid_deal_order(buyer, deal, 1)

    results = api_for(buyer).get(ORDERS).json()["results"]

    assert [len(o["vouchers"]) for o in results] == [1]


# --- POST /orders/{id}/refund/ --------------------------------------------------------------------


def test_refund_answers_the_refund_and_the_updated_order(buyer, deal, run_on_commit):
    order = paid_deal_order(buyer, deal, 2)
    voucher = order.vouchers.first()

    with run_on_commit():
        response = api_for(buyer).post(f"{ORDERS}{order.pk}/refund/", {"vouchers": [voucher.pk]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["refund"] == Refund.objects.get().pk
    assert body["amount"] == "39.90"
    assert body["status"] == "pending"  # sent to the gateway after the commit
    assert body["order"]["id"] == order.pk and body["order"]["status"] == "paid"
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED


# --- POST /orders/{id}/cancel/ --------------------------------------------------------------------


def test_cancelling_an_unpaid_order_releases_the_stock(buyer, deal, unpaid):
    response = api_for(buyer).post(f"{ORDERS}{unpaid.pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    deal.refresh_from_db()
    assert deal.units_taken == 0
    assert not Refund.objects.exists()


def test_cancelling_a_paid_deal_order_is_409(buyer, deal):
    order = paid_deal_order(buyer, deal, 1)

    response = api_for(buyer).post(f"{ORDERS}{order.pk}/cancel/")

    assert response.status_code == 409
    assert not Refund.objects.exists()


def test_cancelling_a_paid_booking_in_time_refunds_it_in_full(buyer, run_on_commit):
    service = ServiceFactory(price=Decimal("120.00"), capacity=1)
    order = paid_booking_order(buyer, service, at_day(timezone.now(), 3, 12))

    with run_on_commit():
        response = api_for(buyer).post(f"{ORDERS}{order.pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled_by_consumer"
    refund = Refund.objects.get()
    assert (refund.amount, refund.status) == (Decimal("120.00"), Refund.Status.SUCCEEDED)
    assert response.json()["vouchers"][0]["status"] == "refunded"
    assert SlotLoad.objects.get(service=service).taken == 0
    assert gateway_cash() == Decimal("0.00")
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1
    assert_books_clean()


def test_a_merchant_cancelling_a_booking_refunds_it_in_full(buyer, run_on_commit):
    owner = MemberFactory(role=MerchantMember.Role.OWNER)
    service = ServiceFactory(store__merchant=owner.merchant, price=Decimal("120.00"))
    order = paid_booking_order(buyer, service, at_day(timezone.now(), 1, 12))

    with run_on_commit():
        response = api_for(owner.user).post(
            f"/api/v1/merchant/bookings/{order.booking.pk}/cancel/", {"reason": "Chef is ill"}, format="json"
        )

    assert response.status_code == 200
    refund = Refund.objects.get()
    assert (refund.reason, refund.amount, refund.status) == ("merchant_cancelled", Decimal("120.00"), "succeeded")
    assert_books_clean()
