"""The gateway's signed notifications (DESIGN §5): trusted only when signed and fresh,
idempotent however often they arrive, and a payment that comes too late is given back."""

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.urls import reverse

from coupons.models import Voucher
from o2o.errors import Gone
from orders import services as order_services
from orders.models import Order
from payments.gateways.sandbox import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from payments.models import GatewayEvent, LedgerEntry, Payment, Refund, SandboxRefund
from tests.factories.catalogue import DealFactory
from tests.factories.payments import (
    assert_books_clean,
    charge_of,
    entry_lines,
    gateway_cash,
    post_notification,
    press_button,
    signed_notification,
    start_payment,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer(user_factory):
    return user_factory()


@pytest.fixture
def deal():
    return DealFactory(price=Decimal("88.00"), stock=10, per_user_limit=5)


@pytest.fixture
def started(buyer, deal):
    """An order for 2 units whose payer pressed "Pay now"; the platform has heard nothing."""
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=2)
    payment, _url = start_payment(order)
    press_button(payment)
    return order, payment


def assert_nothing_recorded(order, payment):
    payment.refresh_from_db()
    order.refresh_from_db()
    assert GatewayEvent.objects.count() == 0
    assert payment.status == Payment.Status.CREATED
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not Voucher.objects.filter(order=order).exists()
    assert not LedgerEntry.objects.exists()


# --- a good notification ----------------------------------------------------------------------


def test_a_signed_notification_pays_the_order_and_books_the_money(client, started):
    order, payment = started
    body, headers = signed_notification(payment)

    response = post_notification(client, body, headers)

    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.gateway_transaction == charge_of(payment).transaction_id
    assert order.status == Order.Status.PAID and order.paid_at is not None
    vouchers = list(order.vouchers.all())
    assert len(vouchers) == 2
    assert {v.status for v in vouchers} == {Voucher.Status.VALID}
    assert sum(v.amount for v in vouchers) == order.total == Decimal("176.00")
    entry = LedgerEntry.objects.get()
    assert entry.kind == LedgerEntry.Kind.PAYMENT and entry.order_id == order.pk
    assert entry_lines(entry) == {"gateway_cash": Decimal("176.00"), "clearing": Decimal("-176.00")}
    assert_books_clean()


def test_the_same_notification_a_hundred_times_makes_one_payment(client, started, deal):
    order, payment = started
    body, headers = signed_notification(payment)

    answers = [post_notification(client, body, headers) for _ in range(100)]

    assert {r.status_code for r in answers} == {200}
    assert [r.json()["status"] for r in answers].count("processed") == 1
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == 1
    assert GatewayEvent.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert gateway_cash() == order.total
    assert Voucher.objects.filter(order=order).count() == 2
    deal.refresh_from_db()
    assert deal.units_sold == 2 and deal.units_taken == 2
    assert order.events.filter(to_status=Order.Status.PAID).count() == 1
    assert_books_clean()


# --- notifications that must not be trusted ---------------------------------------------------


def test_a_forged_signature_is_refused(client, started):
    order, payment = started
    body, headers = signed_notification(payment)
    headers[SIGNATURE_HEADER] = sign(body, int(headers[TIMESTAMP_HEADER]), secret="not-the-gateway-secret")

    response = post_notification(client, body, headers)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_notification"
    assert_nothing_recorded(order, payment)


def test_a_body_changed_after_signing_is_refused(client, started):
    order, payment = started
    body, headers = signed_notification(payment)
    tampered = body.replace(b'"amount":"176.00"', b'"amount":"1.00"')
    assert tampered != body

    response = post_notification(client, tampered, headers)

    assert response.status_code == 400
    assert_nothing_recorded(order, payment)


def test_a_stale_notification_is_refused(client, started, settings):
    order, payment = started
    stale = int(time.time()) - settings.SANDBOX_GATEWAY_TOLERANCE_SECONDS - 5
    body, headers = signed_notification(payment, timestamp=stale)  # correctly signed, but old

    response = post_notification(client, body, headers)

    assert response.status_code == 400
    assert "stale" in response.json()["detail"]
    assert_nothing_recorded(order, payment)


def test_a_notification_just_inside_the_tolerance_is_accepted(client, started, settings):
    order, payment = started
    body, headers = signed_notification(
        payment, timestamp=int(time.time()) - settings.SANDBOX_GATEWAY_TOLERANCE_SECONDS + 30
    )

    assert post_notification(client, body, headers).status_code == 200

    order.refresh_from_db()
    assert order.status == Order.Status.PAID


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {TIMESTAMP_HEADER: "1700000000"},
        {SIGNATURE_HEADER: "abc"},
        {TIMESTAMP_HEADER: "soon", SIGNATURE_HEADER: "abc"},
        {TIMESTAMP_HEADER: "-1", SIGNATURE_HEADER: "abc"},
        {TIMESTAMP_HEADER: "²", SIGNATURE_HEADER: "abc"},  # a digit to str.isdigit, not to int()
        {TIMESTAMP_HEADER: "NOW", SIGNATURE_HEADER: "ü" * 64},  # non-ASCII signature
    ],
    ids=["none", "no-signature", "no-timestamp", "word", "negative", "superscript", "non-ascii-signature"],
)
def test_missing_or_garbled_headers_are_refused(client, started, headers):
    order, payment = started
    body, good = signed_notification(payment)
    headers = {key: good[key] if value == "NOW" else value for key, value in headers.items()}

    response = post_notification(client, body, headers)

    assert response.status_code == 400
    assert_nothing_recorded(order, payment)


def test_a_non_ascii_signature_with_a_fresh_timestamp_is_refused(client, started):
    order, payment = started
    body, headers = signed_notification(payment)
    headers[SIGNATURE_HEADER] = "é" + headers[SIGNATURE_HEADER][1:]

    response = post_notification(client, body, headers)

    assert response.status_code == 400
    assert_nothing_recorded(order, payment)


def test_an_unknown_payment_reference_is_refused(client, started):
    order, payment = started
    body, headers = signed_notification(payment, merchant_reference="P000000NOSUCHPAYMENT")

    response = post_notification(client, body, headers)

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_payment"
    assert_nothing_recorded(order, payment)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(Decimal("175.99"), "CNY"), (Decimal("1760.00"), "CNY"), (Decimal("176.00"), "USD")],
)
def test_a_notification_for_another_amount_is_refused(client, started, amount, currency):
    order, payment = started
    body, headers = signed_notification(payment, amount=amount, currency=currency)

    response = post_notification(client, body, headers)

    assert response.status_code == 400
    assert response.json()["code"] == "wrong_amount"
    assert_nothing_recorded(order, payment)


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"event_id": "evt_1"}', b"\xff\xfe\x00", b'{"event_id":1,"type":"x","amount":"abc"}'],
    ids=["empty", "text", "list", "missing-fields", "not-utf8", "bad-amount"],
)
def test_a_correctly_signed_but_malformed_body_is_refused(client, started, body):
    order, payment = started
    timestamp = int(time.time())
    headers = {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(body, timestamp)}

    response = post_notification(client, body, headers)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_notification"
    assert_nothing_recorded(order, payment)


def test_an_unknown_gateway_is_404(client, started):
    order, payment = started
    body, headers = signed_notification(payment)

    response = post_notification(client, body, headers, gateway="paypal")

    assert response.status_code == 404
    assert_nothing_recorded(order, payment)


def test_the_notify_endpoint_takes_only_post(client):
    assert client.get(reverse("payments:notify", args=["sandbox"])).status_code == 405


# --- failure, and money that comes too late ---------------------------------------------------


def test_a_failed_payment_leaves_the_order_payable(client, buyer, deal):
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)
    payment, _url = start_payment(order)
    press_button(payment, succeed=False)
    body, headers = signed_notification(payment, kind="payment.failed")

    response = post_notification(client, body, headers)

    assert response.status_code == 200
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED and payment.failed_reason
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not order.vouchers.exists() and not LedgerEntry.objects.exists()
    # the payer tries again: a new payment, a new hosted page
    again, url = start_payment(order)
    assert again.pk != payment.pk and again.status == Payment.Status.CREATED
    assert url == reverse("payments:sandbox_page", args=[charge_of(again).transaction_id])


def test_a_failed_notification_after_success_changes_nothing(client, started):
    order, payment = started
    body, headers = signed_notification(payment)
    post_notification(client, body, headers)
    failed_body, failed_headers = signed_notification(payment, kind="payment.failed")

    assert post_notification(client, failed_body, failed_headers).status_code == 200

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert order.status == Order.Status.PAID
    assert LedgerEntry.objects.count() == 1


def test_a_payment_after_the_order_expired_is_refunded_in_full(client, buyer, deal, django_capture_on_commit_callbacks):
    # given an order created 20 minutes ago whose payer opened the hosted page in time
    created = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=2, now=created)
    payment, _url = start_payment(order, now=created + dt.timedelta(minutes=1))
    # and the expiry worker cancelled it when its 15 minutes ran out
    assert order_services.order_expire(order_id=order.pk, now=created + dt.timedelta(minutes=16))
    deal.refresh_from_db()
    assert deal.units_taken == 0

    # when the payer's money arrives anyway
    press_button(payment)
    body, headers = signed_notification(payment)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_notification(client, body, headers)

    # then the payment is recorded, the order stays cancelled and the money goes back
    assert response.status_code == 200
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert order.status == Order.Status.CANCELLED and order.paid_at is None
    assert not order.vouchers.exists()
    refund = Refund.objects.get()
    assert refund.reason == Refund.Reason.LATE_PAYMENT
    assert refund.amount == payment.amount == Decimal("176.00")
    assert refund.status == Refund.Status.SUCCEEDED
    assert SandboxRefund.objects.get().amount == Decimal("176.00")
    assert gateway_cash() == Decimal("0.00")
    assert list(LedgerEntry.objects.order_by("pk").values_list("kind", flat=True)) == ["payment", "refund"]
    deal.refresh_from_db()
    assert deal.units_taken == 0 and deal.units_sold == 0
    assert_books_clean()

    # and the gateway telling it again refunds nothing more
    with django_capture_on_commit_callbacks(execute=True):
        post_notification(client, body, headers)
    assert Refund.objects.count() == 1 and SandboxRefund.objects.count() == 1


def test_paying_an_expired_order_is_refused_before_any_money_moves(buyer, deal):
    created = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1, now=created)

    with pytest.raises(Gone) as refused:
        start_payment(order)

    assert refused.value.code == "payment_expired"
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert not Payment.objects.exists()


# --- the return page, when the notification is late ------------------------------------------


def test_the_return_page_asks_the_gateway_when_the_notification_is_late(client, started):
    order, payment = started  # pressed "Pay now"; no notification delivered
    client.force_login(order.user)

    page = client.get(reverse("payments:return", args=[payment.reference]), HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    assert "Payment successful" in page.content.decode()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert order.status == Order.Status.PAID
    assert order.vouchers.count() == 2
    # the notification that finally arrives is recorded, and books nothing twice
    body, headers = signed_notification(payment)
    assert post_notification(client, body, headers).json() == {"status": "processed"}
    assert GatewayEvent.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert order.vouchers.count() == 2
    assert_books_clean()


def test_the_return_page_waits_while_the_payer_has_not_paid(client, buyer, deal):
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)
    payment, _url = start_payment(order)
    client.force_login(buyer)

    page = client.get(reverse("payments:return", args=[payment.reference]))

    assert page.status_code == 200
    assert 'http-equiv="refresh"' in page.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


def test_the_return_page_shows_a_declined_payment(client, buyer, deal):
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)
    payment, _url = start_payment(order)
    press_button(payment, succeed=False)
    client.force_login(buyer)

    client.get(reverse("payments:return", args=[payment.reference]))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert order.status == Order.Status.PENDING_PAYMENT


def test_another_users_return_page_is_404(client, started, user_factory):
    _order, payment = started
    client.force_login(user_factory())

    assert client.get(reverse("payments:return", args=[payment.reference])).status_code == 404
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


def test_the_hosted_page_sends_the_notification_itself(client, buyer, deal, settings):
    """What the browser does: the page's "Pay now" makes the gateway notify the platform."""
    settings.SANDBOX_DUPLICATE_RATE = 1.0  # and a second, late delivery too
    settings.SANDBOX_MAX_DELAY_SECONDS = 0
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)
    client.force_login(buyer)
    pay_url = client.post(reverse("payments:pay", args=[order.number])).url

    back = client.post(pay_url, {"outcome": "succeed"})

    assert back.status_code == 302
    assert back.url == f"http://testserver{reverse('payments:return', args=[Payment.objects.get().reference])}"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert GatewayEvent.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert Decimal(GatewayEvent.objects.get().payload["amount"]) == Decimal("88.00")
