"""Refunds (DESIGN §1 "随时退", §9): unused deal vouchers back to the payer at any time, booking
cancellations under their policy, platform finance's refunds, and the gateway failing on the
way. What a consumer and a finance person check: the money, the vouchers, the stock, the books.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from coupons.models import Voucher
from merchants.models import CancellationPolicy
from o2o.errors import Conflict, Invalid, NotFound
from orders import services as order_services
from orders.models import DealQuota, Order, SlotLoad
from payments import services as payment_services
from payments.gateways.base import GatewayError, get_gateway
from payments.models import LedgerEntry, Refund, SandboxRefund
from tests.factories.catalogue import NOW, DealFactory, ServiceFactory, at_day
from tests.factories.payments import (
    assert_books_clean,
    entry_lines,
    gateway_cash,
    paid_booking_order,
    paid_deal_order,
)

pytestmark = pytest.mark.django_db


def api_for(user):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def refund_url(order):
    return f"/api/v1/orders/{order.pk}/refund/"


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what the services queue for after COMMIT (the refund's execution) at the end of
    the block, as a real request's commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def buyer(user_factory):
    return user_factory()


@pytest.fixture
def deal():
    return DealFactory(price=Decimal("88.00"), stock=10, per_user_limit=5)


@pytest.fixture
def paid_three(buyer, deal):
    return paid_deal_order(buyer, deal, 3)


def units(deal, user):
    deal.refresh_from_db()
    quota = DealQuota.objects.filter(deal=deal, user=user).values_list("units", flat=True).first()
    return {"taken": deal.units_taken, "sold": deal.units_sold, "quota": quota}


# --- consumer refunds of deal vouchers --------------------------------------------------------


def test_refunding_one_voucher_through_the_api(buyer, deal, paid_three, run_on_commit):
    voucher, *others = paid_three.vouchers.all()
    assert units(deal, buyer) == {"taken": 3, "sold": 3, "quota": 3}

    with run_on_commit():
        response = api_for(buyer).post(refund_url(paid_three), {"vouchers": [voucher.pk]}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert Decimal(body["amount"]) == voucher.amount == Decimal("88.00")
    refund = Refund.objects.get()
    assert body["refund"] == refund.pk
    assert {v["id"]: v["status"] for v in body["order"]["vouchers"]} == {
        voucher.pk: "refunded",
        **{v.pk: "valid" for v in others},
    }
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.REFUNDED and voucher.refund == refund
    assert refund.reason == Refund.Reason.CONSUMER and refund.requested_by == buyer
    assert refund.status == Refund.Status.SUCCEEDED and refund.gateway_refund_id
    assert SandboxRefund.objects.get().amount == Decimal("88.00")
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REFUND)
    assert entry_lines(entry) == {"clearing": Decimal("88.00"), "gateway_cash": Decimal("-88.00")}
    assert gateway_cash() == Decimal("176.00")
    paid_three.refresh_from_db()
    assert paid_three.status == Order.Status.PAID
    assert units(deal, buyer) == {"taken": 2, "sold": 2, "quota": 2}
    assert_books_clean()


def test_refunding_several_vouchers_makes_one_refund_of_their_sum(buyer, deal, paid_three, run_on_commit):
    first, second, third = paid_three.vouchers.all()

    with run_on_commit():
        response = api_for(buyer).post(refund_url(paid_three), {"vouchers": [first.pk, third.pk]}, format="json")

    assert response.status_code == 200
    refund = Refund.objects.get()
    assert refund.amount == first.amount + third.amount
    assert set(refund.vouchers.values_list("pk", flat=True)) == {first.pk, third.pk}
    second.refresh_from_db()
    assert second.status == Voucher.Status.VALID
    assert units(deal, buyer) == {"taken": 1, "sold": 1, "quota": 1}
    assert_books_clean()


def test_refunding_without_a_list_refunds_every_unused_voucher_and_completes_the_order(
    buyer, deal, paid_three, run_on_commit
):
    used = paid_three.vouchers.first()
    Voucher.objects.filter(pk=used.pk).update(status=Voucher.Status.REDEEMED, redeemed_at=timezone.now())

    with run_on_commit():
        response = api_for(buyer).post(refund_url(paid_three), {}, format="json")

    assert response.status_code == 200
    assert Decimal(response.json()["amount"]) == Decimal("176.00")
    assert response.json()["order"]["status"] == "completed"
    statuses = dict(paid_three.vouchers.values_list("pk", "status"))
    assert statuses.pop(used.pk) == Voucher.Status.REDEEMED
    assert set(statuses.values()) == {Voucher.Status.REFUNDED}
    paid_three.refresh_from_db()
    assert paid_three.status == Order.Status.COMPLETED and paid_three.completed_at is not None
    assert units(deal, buyer) == {"taken": 1, "sold": 1, "quota": 1}
    assert gateway_cash() == Decimal("88.00")
    assert_books_clean()


def test_refunding_every_voucher_completes_the_order_and_refunds_the_total(buyer, deal, paid_three, run_on_commit):
    with run_on_commit():
        response = api_for(buyer).post(refund_url(paid_three), format="json")

    assert response.status_code == 200
    paid_three.refresh_from_db()
    assert paid_three.status == Order.Status.COMPLETED
    assert Refund.objects.get().amount == paid_three.total
    assert gateway_cash() == Decimal("0.00")
    assert units(deal, buyer) == {"taken": 0, "sold": 0, "quota": 0}
    assert_books_clean()


def test_refunding_on_the_order_page(client, buyer, paid_three, run_on_commit):
    first, second, _third = paid_three.vouchers.all()
    client.force_login(buyer)

    with run_on_commit():
        response = client.post(
            reverse("payments:refund", args=[paid_three.number]), {"vouchers": [first.pk, second.pk]}
        )

    assert response.status_code == 302 and response.url == paid_three.get_absolute_url()
    page = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "¥176.00 is on its way back to your payment method." in page
    assert page.count("voucher-refunded") == 2
    assert "Requested by the consumer" in page
    assert Refund.objects.get().amount == Decimal("176.00")
    assert_books_clean()


def test_the_order_page_asks_to_tick_something(client, buyer, paid_three):
    client.force_login(buyer)

    response = client.post(
        reverse("payments:refund", args=[paid_three.number]), {}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert "Tick the vouchers to refund." in response.content.decode()
    assert not Refund.objects.exists()


@pytest.mark.parametrize("status", [Voucher.Status.REDEEMED, Voucher.Status.EXPIRED])
def test_a_used_or_expired_voucher_is_refused_with_its_reason(buyer, paid_three, status):
    used, fine, _third = paid_three.vouchers.all()
    Voucher.objects.filter(pk=used.pk).update(status=status)

    response = api_for(buyer).post(refund_url(paid_three), {"vouchers": [fine.pk, used.pk]}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "voucher_not_refundable"
    assert used.code_display in response.json()["detail"]
    fine.refresh_from_db()
    assert fine.status == Voucher.Status.VALID  # all or nothing
    assert not Refund.objects.exists()


def test_a_voucher_is_refunded_once(buyer, paid_three, run_on_commit):
    voucher = paid_three.vouchers.first()
    with run_on_commit():
        api_for(buyer).post(refund_url(paid_three), {"vouchers": [voucher.pk]}, format="json")

    again = api_for(buyer).post(refund_url(paid_three), {"vouchers": [voucher.pk]}, format="json")

    assert again.status_code == 409
    assert again.json()["code"] == "voucher_not_refundable"
    assert Refund.objects.count() == 1 and SandboxRefund.objects.count() == 1


def test_nothing_left_to_refund(buyer, paid_three, run_on_commit):
    with run_on_commit():
        api_for(buyer).post(refund_url(paid_three), format="json")

    again = api_for(buyer).post(refund_url(paid_three), format="json")

    assert again.status_code == 409
    assert again.json()["code"] == "nothing_to_refund"
    assert Refund.objects.count() == 1


def test_vouchers_of_another_order_are_refused(buyer, deal, paid_three):
    other_order = paid_deal_order(buyer, deal, 1)
    foreign = other_order.vouchers.get()
    mine = paid_three.vouchers.first()

    response = api_for(buyer).post(refund_url(paid_three), {"vouchers": [mine.pk, foreign.pk]}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_voucher"
    assert "vouchers" in response.json()["errors"]
    assert not Refund.objects.exists()
    assert set(Voucher.objects.values_list("status", flat=True)) == {Voucher.Status.VALID}


@pytest.mark.parametrize("payload", [{"vouchers": []}, {"vouchers": ["x"]}, {"vouchers": [0]}, {"vouchers": 5}])
def test_a_malformed_list_is_400(buyer, paid_three, payload):
    response = api_for(buyer).post(refund_url(paid_three), payload, format="json")

    assert response.status_code == 400
    assert not Refund.objects.exists()


def test_another_users_order_is_404(user_factory, paid_three):
    stranger = user_factory()

    response = api_for(stranger).post(refund_url(paid_three), format="json")

    assert response.status_code == 404
    with pytest.raises(NotFound):
        payment_services.vouchers_refund(order=paid_three, user=stranger)
    assert not Refund.objects.exists()


def test_another_users_order_page_refund_is_404(client, user_factory, paid_three):
    client.force_login(user_factory())
    voucher = paid_three.vouchers.first()

    response = client.post(reverse("payments:refund", args=[paid_three.number]), {"vouchers": [voucher.pk]})

    assert response.status_code == 404
    assert not Refund.objects.exists()


def test_an_unpaid_order_has_nothing_to_refund(buyer, deal):
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)

    response = api_for(buyer).post(refund_url(order), format="json")

    assert response.status_code == 409
    assert not Refund.objects.exists()


def test_refunded_units_go_back_to_the_stock(user_factory, run_on_commit):
    deal = DealFactory(stock=3, per_user_limit=3)
    alice, bob = user_factory(), user_factory()
    order = paid_deal_order(alice, deal, 3)
    with pytest.raises(Conflict) as sold_out:
        order_services.order_create_for_deal(user=bob, deal_id=deal.pk, quantity=1)
    assert sold_out.value.code == "sold_out"

    with run_on_commit():
        payment_services.vouchers_refund(order=order, user=alice, voucher_ids=two_of(order))

    assert units(deal, alice) == {"taken": 1, "sold": 1, "quota": 1}
    paid_deal_order(bob, deal, 2)
    assert units(deal, bob) == {"taken": 3, "sold": 3, "quota": 2}
    assert_books_clean()


def test_refunded_units_go_back_to_the_buyers_limit(buyer, run_on_commit):
    deal = DealFactory(stock=None, per_user_limit=2)
    order = paid_deal_order(buyer, deal, 2)
    with pytest.raises(Conflict) as over_limit:
        order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)
    assert over_limit.value.code == "limit_reached"

    with run_on_commit():
        payment_services.vouchers_refund(order=order, user=buyer, voucher_ids=two_of(order)[:1])

    paid_deal_order(buyer, deal, 1)
    assert units(deal, buyer) == {"taken": 2, "sold": 2, "quota": 2}
    with pytest.raises(Conflict):
        order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)
    assert_books_clean()


def two_of(order):
    return list(order.vouchers.values_list("pk", flat=True)[:2])


# --- the gateway failing on the way -------------------------------------------------------------


def test_a_failing_gateway_leaves_the_refund_failed_then_the_sweep_completes_it_once(
    settings, buyer, paid_three, run_on_commit
):
    # given the gateway's refund service is down
    settings.SANDBOX_REFUND_FAILURE_RATE = 1.0
    voucher = paid_three.vouchers.first()

    with run_on_commit():
        response = api_for(buyer).post(refund_url(paid_three), {"vouchers": [voucher.pk]}, format="json")

    # then the consumer's refund is accepted and recorded, but has not reached the gateway
    assert response.status_code == 200
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.FAILED
    assert refund.attempts == 1
    assert "temporarily unavailable" in refund.last_error
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.REFUNDED
    assert not SandboxRefund.objects.exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).exists()
    assert_books_clean()

    # when the gateway is back and the periodic sweep runs (a few minutes later)
    settings.SANDBOX_REFUND_FAILURE_RATE = 0.0
    later = timezone.now() + dt.timedelta(minutes=5)
    assert payment_services.refunds_retry_stuck(now=timezone.now()) == 0  # too recent to count as stuck
    assert payment_services.refunds_retry_stuck(now=later) == 1

    # then the refund went through exactly once
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.attempts == 2
    assert SandboxRefund.objects.get().amount == voucher.amount
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1
    assert payment_services.refunds_retry_stuck(now=later) == 0
    payment_services.refund_execute(refund_id=refund.pk)
    assert SandboxRefund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1
    assert_books_clean()


def test_a_failed_refund_is_completed_by_executing_it_again(settings, buyer, paid_three, run_on_commit):
    settings.SANDBOX_REFUND_FAILURE_RATE = 1.0
    with run_on_commit():
        payment_services.vouchers_refund(order=paid_three, user=buyer)
    refund = Refund.objects.get()
    with pytest.raises(GatewayError):
        payment_services.refund_execute(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED and refund.attempts == 2

    settings.SANDBOX_REFUND_FAILURE_RATE = 0.0
    payment_services.refund_execute(refund_id=refund.pk)

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.attempts == 3
    assert SandboxRefund.objects.get().amount == paid_three.total
    assert_books_clean()


def test_executing_a_refund_twice_refunds_once(buyer, paid_three):
    payment_services.vouchers_refund(order=paid_three, user=buyer)  # on_commit not run: pending
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING

    first = payment_services.refund_execute(refund_id=refund.pk)
    second = payment_services.refund_execute(refund_id=refund.pk)

    assert first.status == second.status == Refund.Status.SUCCEEDED
    assert first.gateway_refund_id == second.gateway_refund_id
    assert SandboxRefund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1
    assert_books_clean()


def test_a_refund_the_gateway_made_but_whose_answer_was_lost_is_not_made_again(buyer, paid_three):
    payment_services.vouchers_refund(order=paid_three, user=buyer)
    refund = Refund.objects.get()
    # the gateway refunded under the refund's key, but the platform never heard back
    gateway_id = get_gateway().refund(refund.payment, amount=refund.amount, idempotency_key=str(refund.idempotency_key))

    payment_services.refund_execute(refund_id=refund.pk)

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.gateway_refund_id == gateway_id
    assert SandboxRefund.objects.count() == 1
    assert_books_clean()


# --- platform finance ---------------------------------------------------------------------------


@pytest.fixture
def finance(user_factory):
    return user_factory(is_staff=True)


@pytest.mark.parametrize("note", ["", "   ", None])
def test_a_finance_refund_needs_a_note(finance, paid_three, note):
    with pytest.raises(Invalid) as refused:
        payment_services.refund_by_finance(order=paid_three, amount=Decimal("10.00"), note=note, actor=finance)

    assert refused.value.code == "reason_required"
    assert not Refund.objects.exists()


@pytest.mark.parametrize("amount", [Decimal("0.00"), Decimal("-5.00"), "abc", Decimal("1.005"), 1.5, "NaN", "Infinity"])
def test_a_finance_refund_needs_a_positive_amount_in_cents(finance, paid_three, amount):
    with pytest.raises(Invalid) as refused:
        payment_services.refund_by_finance(order=paid_three, amount=amount, note="goodwill", actor=finance)

    assert refused.value.code == "bad_amount"
    assert not Refund.objects.exists()


def test_a_finance_refund_cannot_exceed_what_is_left(finance, buyer, paid_three, run_on_commit):
    # given 88 of the 264 paid was refunded by the consumer
    with run_on_commit():
        payment_services.vouchers_refund(order=paid_three, user=buyer, voucher_ids=[paid_three.vouchers.first().pk])
    left = paid_three.total - Decimal("88.00")

    with pytest.raises(Conflict) as refused:
        payment_services.refund_by_finance(order=paid_three, amount=left + Decimal("0.01"), note="x", actor=finance)
    assert refused.value.code == "over_refund"

    with run_on_commit():
        refund = payment_services.refund_by_finance(
            order=paid_three, amount=str(left), note="complaint #42: store closed", actor=finance
        )

    refund.refresh_from_db()
    assert refund.reason == Refund.Reason.ADMIN and refund.requested_by == finance
    assert refund.note == "complaint #42: store closed"
    assert refund.status == Refund.Status.SUCCEEDED and refund.amount == left
    with pytest.raises(Conflict):
        payment_services.refund_by_finance(order=paid_three, amount=Decimal("0.01"), note="x", actor=finance)
    assert gateway_cash() == Decimal("0.00")
    assert_books_clean()


def test_finance_may_refund_a_redeemed_voucher(finance, paid_three, run_on_commit):
    used = paid_three.vouchers.first()
    Voucher.objects.filter(pk=used.pk).update(status=Voucher.Status.REDEEMED)

    with run_on_commit():
        payment_services.refund_by_finance(order=paid_three, amount=used.amount, note="bad service", actor=finance)

    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    assert_books_clean()


def test_finance_cannot_refund_an_unpaid_order(finance, buyer, deal):
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)

    with pytest.raises(Conflict) as refused:
        payment_services.refund_by_finance(order=order, amount=Decimal("1.00"), note="x", actor=finance)

    assert refused.value.code == "not_paid"


def test_after_a_goodwill_refund_the_vouchers_refund_is_capped_at_what_is_left(
    finance, buyer, deal, paid_three, run_on_commit
):
    # given finance gave 200 of the 264 back
    with run_on_commit():
        payment_services.refund_by_finance(order=paid_three, amount=Decimal("200.00"), note="late", actor=finance)

    # when the consumer refunds the three unused vouchers (worth 264)
    with run_on_commit():
        refund = payment_services.vouchers_refund(order=paid_three, user=buyer)

    # then they get the 64 that is left: the whole payment back, never more
    assert refund.amount == Decimal("64.00")
    assert gateway_cash() == Decimal("0.00")
    assert set(paid_three.vouchers.values_list("status", flat=True)) == {Voucher.Status.REFUNDED}
    assert units(deal, buyer)["taken"] == 0
    assert_books_clean()


# --- bookings -------------------------------------------------------------------------------------


@pytest.fixture
def booked(buyer):
    """A confirmed booking prepaid 100.00 in full, three days ahead, under the "fair" policy
    (free until 24 h before; then 10 % is kept; 30 % on a no-show)."""
    service = ServiceFactory(price=Decimal("100.00"), capacity=1, cancellation_policy=CancellationPolicy.FAIR)
    start = at_day(NOW, 3, 12)
    return paid_booking_order(buyer, service, start, now=NOW)


def slot_taken(order):
    return SlotLoad.objects.get(service=order.booking.service, start=order.booking.start).taken


def test_a_paid_booking_has_one_voucher_and_its_payment_booked(booked):
    voucher = booked.vouchers.get()
    assert voucher.kind == Voucher.Kind.BOOKING and voucher.amount == Decimal("100.00")
    assert gateway_cash() == Decimal("100.00")
    assert_books_clean()


def test_a_free_cancellation_refunds_everything(buyer, booked, run_on_commit):
    with run_on_commit():
        payment_services.booking_cancel_and_refund(
            order=booked, user=buyer, now=booked.booking.start - dt.timedelta(hours=25)
        )

    booked.refresh_from_db()
    assert booked.status == Order.Status.CANCELLED_BY_CONSUMER
    refund = Refund.objects.get()
    assert (refund.reason, refund.amount, refund.status) == ("booking_cancelled", Decimal("100.00"), "succeeded")
    assert booked.vouchers.get().status == Voucher.Status.REFUNDED
    assert slot_taken(booked) == 0
    assert gateway_cash() == Decimal("0.00")
    assert_books_clean()


def test_a_late_cancellation_keeps_the_late_fee(buyer, booked, run_on_commit):
    with run_on_commit():
        payment_services.booking_cancel_and_refund(
            order=booked, user=buyer, now=booked.booking.start - dt.timedelta(hours=3)
        )

    booked.refresh_from_db()
    booked.booking.refresh_from_db()
    assert booked.booking.fee_kept == Decimal("10.00")
    assert Refund.objects.get().amount == Decimal("90.00")
    assert gateway_cash() == Decimal("10.00")
    assert_books_clean()


def test_a_booking_is_cancelled_once(buyer, booked, run_on_commit):
    when = booked.booking.start - dt.timedelta(hours=30)
    with run_on_commit():
        payment_services.booking_cancel_and_refund(order=booked, user=buyer, now=when)

    with pytest.raises(Conflict):
        payment_services.booking_cancel_and_refund(order=booked, user=buyer, now=when)

    assert Refund.objects.count() == 1
    assert_books_clean()


def test_a_started_booking_cannot_be_cancelled_by_the_consumer(buyer, booked):
    with pytest.raises(Conflict) as refused:
        payment_services.booking_cancel_and_refund(
            order=booked, user=buyer, now=booked.booking.start + dt.timedelta(minutes=1)
        )

    assert refused.value.code == "booking_started"
    booked.refresh_from_db()
    assert booked.status == Order.Status.CONFIRMED
    assert not Refund.objects.exists()


def test_another_user_cannot_cancel_the_booking(user_factory, booked):
    with pytest.raises(NotFound):
        payment_services.booking_cancel_and_refund(order=booked, user=user_factory(), now=NOW)
    assert not Refund.objects.exists()


def test_a_merchant_cancellation_refunds_in_full_even_at_the_last_minute(booked, user_factory, run_on_commit):
    owner = user_factory()

    with run_on_commit():
        payment_services.booking_cancel_by_merchant_and_refund(
            order=booked, actor=owner, reason="Kitchen flooded", now=booked.booking.start - dt.timedelta(minutes=5)
        )

    booked.refresh_from_db()
    assert booked.status == Order.Status.CANCELLED_BY_MERCHANT
    refund = Refund.objects.get()
    assert (refund.reason, refund.amount, refund.note) == ("merchant_cancelled", Decimal("100.00"), "Kitchen flooded")
    assert refund.status == Refund.Status.SUCCEEDED
    assert booked.vouchers.get().status == Voucher.Status.REFUNDED
    assert slot_taken(booked) == 0
    assert_books_clean()


def test_a_no_show_refunds_the_prepaid_amount_less_the_no_show_fee(booked, user_factory, run_on_commit):
    with run_on_commit():
        payment_services.booking_no_show_and_refund(
            order=booked, actor=user_factory(), now=booked.booking.start + dt.timedelta(hours=1)
        )

    booked.refresh_from_db()
    assert booked.status == Order.Status.NO_SHOW
    assert booked.booking.fee_kept == Decimal("30.00")
    refund = Refund.objects.get()
    assert (refund.reason, refund.amount, refund.status) == ("no_show", Decimal("70.00"), "succeeded")
    assert booked.vouchers.get().status == Voucher.Status.EXPIRED
    assert gateway_cash() == Decimal("30.00")
    assert_books_clean()


def test_a_no_show_under_a_strict_policy_keeps_everything(buyer, user_factory, run_on_commit):
    service = ServiceFactory(price=Decimal("100.00"), cancellation_policy=CancellationPolicy.STRICT)
    order = paid_booking_order(buyer, service, at_day(NOW, 2, 15), now=NOW)

    with run_on_commit():
        payment_services.booking_no_show_and_refund(
            order=order, actor=user_factory(), now=order.booking.start + dt.timedelta(hours=1)
        )

    order.refresh_from_db()
    assert order.status == Order.Status.NO_SHOW
    assert not Refund.objects.exists()
    assert gateway_cash() == Decimal("100.00")
    assert_books_clean()


def test_an_unpaid_booking_is_cancelled_without_any_refund(buyer):
    service = ServiceFactory(price=Decimal("100.00"))
    order = order_services.order_create_for_booking(
        user=buyer, service_id=service.pk, start=at_day(NOW, 2, 15), party_size=2, now=NOW
    )

    payment_services.booking_cancel_and_refund(order=order, user=buyer, now=NOW)

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert not Refund.objects.exists()
    assert slot_taken(order) == 0


@pytest.mark.parametrize("who", ["consumer", "merchant", "no-show"])
def test_after_a_goodwill_refund_a_booking_can_still_be_cancelled(finance, buyer, booked, who, run_on_commit):
    # given finance already gave 95 of the 100 back
    with run_on_commit():
        payment_services.refund_by_finance(order=booked, amount=Decimal("95.00"), note="rude staff", actor=finance)

    # when the booking is cancelled or marked no-show
    start = booked.booking.start
    with run_on_commit():
        if who == "consumer":
            payment_services.booking_cancel_and_refund(order=booked, user=buyer, now=start - dt.timedelta(days=2))
        elif who == "merchant":
            payment_services.booking_cancel_by_merchant_and_refund(
                order=booked, actor=finance, reason="closed", now=start - dt.timedelta(days=2)
            )
        else:
            payment_services.booking_no_show_and_refund(order=booked, actor=finance, now=start + dt.timedelta(hours=1))

    # then it goes through, and gives back what is left of the payment, never more
    booked.refresh_from_db()
    assert booked.status != Order.Status.CONFIRMED
    assert Refund.objects.exclude(reason=Refund.Reason.ADMIN).get().amount == Decimal("5.00")
    assert gateway_cash() == Decimal("0.00")
    assert_books_clean()
