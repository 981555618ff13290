"""Money under real concurrency, on PostgreSQL with threads released together by a barrier:
the gateway's duplicate notifications, a double-tapped refund, a refund sent by a task retry
and the periodic sweep at once, overlapping expiry runs, and an expiry racing the payment.
Whatever the interleaving, money moves once and the books agree."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from coupons.models import Voucher
from o2o.errors import Conflict, DomainError
from orders import services as order_services
from orders.models import DealQuota, Order
from payments import services as payment_services
from payments.models import GatewayEvent, LedgerEntry, Payment, Refund, SandboxRefund
from tests.factories.catalogue import DealFactory
from tests.factories.payments import (
    assert_books_clean,
    gateway_cash,
    paid_deal_order,
    post_notification,
    press_button,
    signed_notification,
    start_payment,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 30
ROUNDS = 5  # a race lost only now and then still shows up; rounds share one database flush


@pytest.fixture(autouse=True)
def _one_delivery(settings):
    settings.SANDBOX_DUPLICATE_RATE = 0


def race(calls):
    """Run each callable in its own thread, all released at once by a barrier; each thread
    closes its own database connection. Returns ("ok", result) or ("error", exc) per call."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            connection.ensure_connection()  # connect first, so the race is the call itself
            barrier.wait(timeout=30)
            return "ok", call()
        except Exception as exc:
            return "error", exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def errors(outcomes, allowed=(DomainError,)):
    """The losers' exceptions; anything but an expected domain error is a bug."""
    found = [value for kind, value in outcomes if kind == "error"]
    unexpected = [e for e in found if not isinstance(e, allowed)]
    assert not unexpected, unexpected
    return found


@pytest.fixture
def buyer(user_factory):
    return user_factory()


@pytest.fixture
def deal():
    return DealFactory(price=Decimal("58.00"), stock=1000, per_user_limit=100)


def refunds_of(order):
    return Refund.objects.filter(order=order)


def gateway_refunds_of(order):
    return SandboxRefund.objects.filter(charge__merchant_reference__in=order.payments.values("reference"))


def test_the_same_notification_from_30_threads_makes_one_payment(buyer, deal):
    for _round in range(ROUNDS):
        # given a payer who pressed "Pay now"
        order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=3)
        payment, _url = start_payment(order)
        press_button(payment)
        body, headers = signed_notification(payment)

        # when the gateway's notification arrives 30 times at once, then 70 more times
        def deliver(times, body=body, headers=headers):
            client = Client()
            return [post_notification(client, body, headers).status_code for _ in range(times)]

        first = race([lambda: deliver(1) for _ in range(THREADS)])
        more = race([lambda: deliver(7) for _ in range(10)])
        errors(first + more, allowed=())

        # then every delivery was acknowledged and the money was recorded exactly once
        assert [code for _kind, codes in first + more for code in codes] == [200] * 100
        payment.refresh_from_db()
        order.refresh_from_db()
        assert payment.status == Payment.Status.SUCCEEDED
        assert Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).count() == 1
        assert GatewayEvent.objects.filter(payment=payment).count() == 1
        assert LedgerEntry.objects.filter(order=order).count() == 1
        assert Voucher.objects.filter(order=order).count() == 3
        assert order.status == Order.Status.PAID
        assert order.events.filter(to_status=Order.Status.PAID).count() == 1
        assert_books_clean()
    deal.refresh_from_db()
    assert deal.units_sold == deal.units_taken == 3 * ROUNDS


def test_notifications_racing_the_return_page_record_the_payment_once(buyer, deal):
    for _round in range(ROUNDS):
        order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=2)
        payment, _url = start_payment(order)
        press_button(payment)
        body, headers = signed_notification(payment)

        def sync(payment=payment):
            return payment_services.payment_sync(payment=Payment.objects.get(pk=payment.pk)).status

        def notify(body=body, headers=headers):
            return post_notification(Client(), body, headers).status_code

        outcomes = race([sync, notify] * 10)

        errors(outcomes, allowed=())
        assert LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.PAYMENT).count() == 1
        assert Voucher.objects.filter(order=order).count() == 2
        assert GatewayEvent.objects.filter(payment=payment).count() == 1
        assert_books_clean()


def test_a_double_tapped_refund_refunds_once(buyer, deal):
    for _round in range(ROUNDS):
        order = paid_deal_order(buyer, deal, 2)
        voucher = order.vouchers.first()

        outcomes = race(
            [lambda o=order, v=voucher: payment_services.vouchers_refund(order=o, user=buyer, voucher_ids=[v.pk])] * 20
        )

        assert sum(kind == "ok" for kind, _value in outcomes) == 1
        assert {e.code for e in errors(outcomes)} == {"voucher_not_refundable"}
        refund = refunds_of(order).get()
        assert refund.status == Refund.Status.SUCCEEDED and refund.amount == Decimal("58.00")
        assert gateway_refunds_of(order).count() == 1
        assert_books_clean()
    deal.refresh_from_db()
    assert (deal.units_taken, deal.units_sold) == (ROUNDS, ROUNDS)
    assert DealQuota.objects.get(deal=deal, user=buyer).units == ROUNDS


def test_refunding_everything_from_many_taps_refunds_each_voucher_once(buyer, deal):
    for _round in range(ROUNDS):
        order = paid_deal_order(buyer, deal, 5)
        ids = list(order.vouchers.values_list("pk", flat=True))
        calls = [lambda o=order: payment_services.vouchers_refund(order=o, user=buyer)] * 5
        calls += [
            lambda o=order, pk=pk: payment_services.vouchers_refund(order=o, user=buyer, voucher_ids=[pk]) for pk in ids
        ]

        outcomes = race(calls * 2)

        assert {e.code for e in errors(outcomes)} <= {"voucher_not_refundable", "nothing_to_refund"}
        assert set(Voucher.objects.filter(order=order).values_list("status", flat=True)) == {"refunded"}
        assert sum(refunds_of(order).values_list("amount", flat=True)) == order.total
        assert gateway_refunds_of(order).count() == refunds_of(order).count()
        order.refresh_from_db()
        assert order.status == Order.Status.COMPLETED
        assert_books_clean()
    deal.refresh_from_db()
    assert (deal.units_taken, deal.units_sold) == (0, 0)
    assert gateway_cash() == Decimal("0.00")


def test_one_refund_sent_by_many_workers_at_once_reaches_the_gateway_once(buyer, deal, settings):
    for _round in range(ROUNDS):
        # given a refund whose first attempt failed, so it is waiting for a retry
        order = paid_deal_order(buyer, deal, 2)
        settings.SANDBOX_REFUND_FAILURE_RATE = 1.0
        refund = payment_services.vouchers_refund(order=order, user=buyer)
        refund.refresh_from_db()
        assert refund.status == Refund.Status.FAILED
        settings.SANDBOX_REFUND_FAILURE_RATE = 0.0

        # when the task's own retry and the periodic sweep send it at the same moment
        outcomes = race([lambda r=refund: payment_services.refund_execute(refund_id=r.pk)] * 20)

        errors(outcomes, allowed=())
        refund.refresh_from_db()
        assert refund.status == Refund.Status.SUCCEEDED
        assert SandboxRefund.objects.filter(idempotency_key=str(refund.idempotency_key)).count() == 1
        assert {value.gateway_refund_id for _kind, value in outcomes} == {refund.gateway_refund_id}
        assert LedgerEntry.objects.filter(key=f"refund:{refund.pk}").count() == 1
        assert_books_clean()
    assert gateway_cash() == Decimal("0.00")


def test_overlapping_expiry_runs_refund_each_voucher_once(user_factory, deal):
    for _round in range(ROUNDS):
        bought = timezone.now() - dt.timedelta(days=200)
        orders = [paid_deal_order(user_factory(), deal, 2, now=bought) for _ in range(5)]

        outcomes = race([lambda: payment_services.vouchers_expire_and_refund()] * 10)

        errors(outcomes, allowed=())
        assert sum(value for _kind, value in outcomes) == 10  # vouchers expired, each counted once
        for order in orders:
            assert set(order.vouchers.values_list("status", flat=True)) == {"refunded"}
            assert list(refunds_of(order).values_list("reason", flat=True)) == [Refund.Reason.EXPIRED]
            assert gateway_refunds_of(order).count() == 1
        assert_books_clean()
    assert gateway_cash() == Decimal("0.00")


def test_expiry_racing_the_payment_ends_paid_or_refunded_never_both(buyer, deal):
    outcomes_seen = set()
    for _round in range(ROUNDS * 3):
        # given an order whose 15 minutes have just run out while its payer was paying
        created = timezone.now() - dt.timedelta(minutes=15, seconds=1)
        order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=2, now=created)
        payment, _url = start_payment(order, now=created + dt.timedelta(minutes=1))
        press_button(payment)
        body, headers = signed_notification(payment)
        cash_before = gateway_cash()

        # when the expiry worker and the gateway's notification arrive together
        outcomes = race(
            [
                lambda o=order: order_services.order_expire(order_id=o.pk),
                lambda b=body, h=headers: post_notification(Client(), b, h).status_code,
            ]
        )

        errors(outcomes, allowed=())
        order.refresh_from_db()
        payment.refresh_from_db()
        assert payment.status == Payment.Status.SUCCEEDED
        outcomes_seen.add(order.status)
        if order.status == Order.Status.PAID:
            assert order.vouchers.count() == 2 and not refunds_of(order).exists()
            assert gateway_cash() - cash_before == order.total
        else:
            assert order.status == Order.Status.CANCELLED and not order.vouchers.exists()
            assert refunds_of(order).get().reason == Refund.Reason.LATE_PAYMENT
            assert gateway_cash() == cash_before
        assert_books_clean()
    paid = Order.objects.filter(status=Order.Status.PAID)
    deal.refresh_from_db()
    assert deal.units_taken == deal.units_sold == 2 * paid.count()
    assert outcomes_seen <= {Order.Status.PAID, Order.Status.CANCELLED}


def test_finance_refunds_at_once_never_give_back_more_than_was_paid(buyer, deal, user_factory):
    finance = user_factory(is_staff=True)
    for _round in range(ROUNDS):
        order = paid_deal_order(buyer, deal, 2)  # 116.00

        outcomes = race(
            [
                lambda o=order: payment_services.refund_by_finance(
                    order=o, amount=Decimal("30.00"), note="goodwill", actor=finance
                )
            ]
            * 10
        )

        assert {e.code for e in errors(outcomes, allowed=(Conflict,))} == {"over_refund"}
        assert refunds_of(order).count() == 3  # 3 × 30 fit in 116, a fourth would not
        assert gateway_refunds_of(order).count() == 3
        assert_books_clean()
    assert gateway_cash() == Decimal("26.00") * ROUNDS
