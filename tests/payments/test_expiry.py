"""过期退 (DESIGN §1, §9): an unused deal voucher that expires is refunded automatically, once,
by the periodic job; used or already refunded vouchers are left alone."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from coupons.models import Voucher
from o2o.errors import Conflict
from orders.models import DealQuota, Order
from payments import services as payment_services
from payments.models import LedgerEntry, Refund, SandboxRefund
from payments.tasks import vouchers_expire_and_refund_task
from tests.factories.catalogue import NOW, DealFactory, ServiceFactory, at_day
from tests.factories.payments import assert_books_clean, gateway_cash, paid_booking_order, paid_deal_order

pytestmark = pytest.mark.django_db

SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def buyer(user_factory):
    return user_factory()


@pytest.fixture
def deal():
    """Vouchers valid for 2 days after purchase (to the end of that day, store time)."""
    return DealFactory(price=Decimal("50.00"), stock=10, valid_days=2)


@pytest.fixture
def order(buyer, deal):
    return paid_deal_order(buyer, deal, 3, now=NOW)


def expire(now, run_on_commit):
    with run_on_commit():
        return payment_services.vouchers_expire_and_refund(now=now)


def test_vouchers_are_valid_until_the_end_of_their_last_day(order):
    valid_until = {v.valid_until for v in order.vouchers.all()}
    assert valid_until == {at_day(NOW, 2, 23, 59) + dt.timedelta(seconds=59)}


def test_nothing_expires_before_the_end_of_validity(order, run_on_commit):
    until = order.vouchers.first().valid_until

    assert expire(until - SECOND, run_on_commit) == 0
    assert expire(until, run_on_commit) == 0  # valid until that moment, inclusive

    assert set(order.vouchers.values_list("status", flat=True)) == {Voucher.Status.VALID}
    assert not Refund.objects.exists()


def test_unused_vouchers_are_refunded_when_they_expire(buyer, deal, order, run_on_commit):
    until = order.vouchers.first().valid_until

    done = expire(until + SECOND, run_on_commit)

    assert done == 3
    refund = Refund.objects.get()
    assert refund.reason == Refund.Reason.EXPIRED
    assert refund.amount == order.total == Decimal("150.00")
    assert refund.status == Refund.Status.SUCCEEDED
    assert SandboxRefund.objects.get().amount == Decimal("150.00")
    for voucher in order.vouchers.all():
        assert voucher.status == Voucher.Status.REFUNDED
        assert voucher.expired_at == until + SECOND and voucher.refund == refund
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    deal.refresh_from_db()
    assert (deal.units_taken, deal.units_sold) == (0, 0)
    assert DealQuota.objects.get(deal=deal, user=buyer).units == 0
    assert gateway_cash() == Decimal("0.00")
    assert_books_clean()


def test_running_the_job_twice_refunds_once(order, run_on_commit):
    later = order.vouchers.first().valid_until + dt.timedelta(hours=1)

    assert expire(later, run_on_commit) == 3
    assert expire(later, run_on_commit) == 0
    assert expire(later + dt.timedelta(days=30), run_on_commit) == 0

    assert Refund.objects.count() == 1
    assert SandboxRefund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1
    assert_books_clean()


def test_used_and_already_refunded_vouchers_are_left_alone(buyer, order, run_on_commit):
    used, refunded, unused = order.vouchers.all()
    Voucher.objects.filter(pk=used.pk).update(status=Voucher.Status.REDEEMED, redeemed_at=NOW)
    with run_on_commit():
        payment_services.vouchers_refund(order=order, user=buyer, voucher_ids=[refunded.pk], now=NOW)

    assert expire(unused.valid_until + SECOND, run_on_commit) == 1

    statuses = dict(order.vouchers.values_list("pk", "status"))
    assert statuses == {used.pk: "redeemed", refunded.pk: "refunded", unused.pk: "refunded"}
    expired_refund = Refund.objects.get(reason=Refund.Reason.EXPIRED)
    assert expired_refund.amount == unused.amount
    assert list(expired_refund.vouchers.all()) == [unused]
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert gateway_cash() == used.amount
    assert_books_clean()


def test_only_the_vouchers_that_are_due_expire(buyer, user_factory, run_on_commit):
    short = DealFactory(valid_days=1)
    long = DealFactory(valid_days=30)
    due = paid_deal_order(buyer, short, 1, now=NOW)
    not_due = paid_deal_order(user_factory(), long, 2, now=NOW)

    assert expire(NOW + dt.timedelta(days=3), run_on_commit) == 1

    assert due.vouchers.get().status == Voucher.Status.REFUNDED
    assert set(not_due.vouchers.values_list("status", flat=True)) == {Voucher.Status.VALID}
    assert Refund.objects.get().order == due
    assert_books_clean()


def test_booking_vouchers_are_not_expired_by_this_job(buyer, run_on_commit):
    booking = paid_booking_order(buyer, ServiceFactory(), at_day(NOW, 2, 12), now=NOW)

    assert expire(NOW + dt.timedelta(days=30), run_on_commit) == 0

    assert booking.vouchers.get().status == Voucher.Status.VALID
    assert not Refund.objects.exists()


def test_the_periodic_task_expires_and_refunds(buyer, run_on_commit):
    # bought 100 days ago with 90 days of validity: expired now, by the real clock
    deal = DealFactory(valid_days=90)
    order = paid_deal_order(buyer, deal, 2, now=timezone.now() - dt.timedelta(days=100))

    with run_on_commit():
        done = vouchers_expire_and_refund_task.delay().get()

    assert done == 2
    assert set(order.vouchers.values_list("status", flat=True)) == {Voucher.Status.REFUNDED}
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    with run_on_commit():
        assert vouchers_expire_and_refund_task.delay().get() == 0
    assert Refund.objects.count() == 1
    assert_books_clean()


def test_after_finance_gave_everything_back_expiry_refunds_nothing_more(user_factory, order, run_on_commit):
    with run_on_commit():
        payment_services.refund_by_finance(
            order=order, amount=order.total, note="store closed for good", actor=user_factory(is_staff=True)
        )

    assert expire(order.vouchers.first().valid_until + SECOND, run_on_commit) == 3

    assert set(order.vouchers.values_list("status", flat=True)) == {Voucher.Status.REFUNDED}
    assert list(Refund.objects.values_list("reason", flat=True)) == [Refund.Reason.ADMIN]
    assert gateway_cash() == Decimal("0.00")
    assert_books_clean()


def test_one_order_that_cannot_be_refunded_does_not_stop_the_others(
    buyer, user_factory, deal, order, monkeypatch, run_on_commit
):
    other = paid_deal_order(user_factory(), deal, 1, now=NOW)
    real = payment_services._refund_vouchers_locked

    def refuse_the_first(*, order, **kwargs):
        if order.pk == other.pk:
            raise Conflict("the gateway is not answering for this one", code="test_refusal")
        return real(order=order, **kwargs)

    monkeypatch.setattr(payment_services, "_refund_vouchers_locked", refuse_the_first)
    later = other.vouchers.get().valid_until + SECOND

    assert expire(later, run_on_commit) == 3

    assert set(order.vouchers.values_list("status", flat=True)) == {Voucher.Status.REFUNDED}
    assert other.vouchers.get().status == Voucher.Status.VALID  # rolled back, tried again next run
    monkeypatch.undo()
    assert expire(later, run_on_commit) == 1
    assert other.vouchers.get().status == Voucher.Status.REFUNDED
    assert_books_clean()
