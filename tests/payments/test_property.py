"""Randomised runs of everything that moves money on deal orders: buying, paying (with
notifications delivered zero to three times, or heard of on the return page), failed
payments, holds and vouchers expiring, payments arriving after the order expired, consumer
refunds of random vouchers, platform finance's refunds, vouchers used in store, and the
gateway's refund service going down and coming back.

Hypothesis drives a state machine through about 40 runs of 60 steps; each run happens in a
savepoint that is rolled back at its end, so every run starts from the same empty books. After
each step and at the end of each run the books must agree with what people see:

- every ledger entry sums to zero, and the reconciliation finds no difference;
- a deal's units taken (and each buyer's count against the limit) are the units of its live
  orders less the refunded ones; its units sold those of its paid orders less the refunded;
- the vouchers of a paid order add up to the order's total;
- once the gateway is up and the periodic sweep has run, every refund has reached the
  gateway, exactly once, and the gateway holds what was paid less what was refunded.

Runs are derandomised (the same 40 runs every time, so CI is repeatable); set
HYPOTHESIS_EXPLORE=1 to let Hypothesis search new ones.
"""

import datetime as dt
import os
from collections import Counter
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Sum
from django.test import TestCase
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from coupons.models import Voucher
from merchants.models import Deal
from o2o.errors import DomainError
from orders import services as order_services
from orders.models import DealQuota, Order, OrderItem
from payments import services as payment_services
from payments.gateways.base import GatewayError
from payments.models import Payment, Refund, SandboxCharge, SandboxRefund
from payments.reconcile import run_checks
from tests.factories.accounts import UserFactory
from tests.factories.catalogue import NOW, DealFactory
from tests.factories.merchants import StoreFactory
from tests.factories.payments import (
    gateway_cash,
    press_button,
    receive_notification,
    signed_notification,
    start_payment,
    unbalanced_entries,
)

pytestmark = pytest.mark.django_db

USERS = 4
EXAMPLES = int(os.environ.get("PROP_EXAMPLES", 40))
STEPS = 60
LIVE = [Order.Status.PENDING_PAYMENT, Order.Status.PAID, Order.Status.COMPLETED]
ZERO = Decimal("0.00")

# The domain refusals each step may meet; anything else (another error, a 500) fails the run.
EXPECTED = {
    "create": {"sold_out", "limit_reached"},
    "pay": {"payment_expired", "not_pending"},
    "refund": {"voucher_not_refundable", "nothing_to_refund"},
    "finance": {"over_refund", "not_paid"},
    "cancel": {"not_pending"},
}

pick = st.integers(min_value=0, max_value=10**6)


class MoneyMachine(RuleBasedStateMachine):
    """One run: a store with two deals, four buyers, and a clock that only moves forward."""

    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        django_settings.SANDBOX_REFUND_FAILURE_RATE = 0.0
        self.now = NOW
        self.orders = []
        self.refusals = Counter()
        self.steps = 0

    @initialize(
        stocks=st.tuples(st.integers(3, 12), st.none() | st.integers(3, 12)),
        limits=st.tuples(st.integers(2, 6), st.integers(1, 6)),
        prices=st.tuples(st.sampled_from(["0.01", "9.90", "33.33", "88.00"]), st.sampled_from(["1.00", "66.67"])),
    )
    def open_the_shop(self, stocks, limits, prices):
        store = StoreFactory()
        self.deals = [
            DealFactory(store=store, stock=stock, per_user_limit=limit, price=Decimal(price), valid_days=days)
            for stock, limit, price, days in zip(stocks, limits, prices, (1, 3), strict=True)
        ]
        self.users = UserFactory.create_batch(USERS)
        self.finance = UserFactory(is_staff=True)

    def teardown(self):
        try:
            if hasattr(self, "deals"):
                self.settle_and_check()
        finally:
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)
            django_settings.SANDBOX_REFUND_FAILURE_RATE = 0.0

    # --- helpers -----------------------------------------------------------------------------

    def step(self, kind, call):
        """Run one service call as a request would: side effects after its commit; an
        expected refusal is counted, anything else fails the run."""
        self.steps += 1
        try:
            with TestCase.captureOnCommitCallbacks(execute=True):
                return call()
        except DomainError as exc:
            assert exc.code in EXPECTED[kind], (kind, exc.code, exc.message)
            self.refusals[(kind, exc.code)] += 1
            return None

    def order(self, i):
        order = self.orders[i % len(self.orders)]
        order.refresh_from_db()
        return order

    # --- what buyers, the gateway, workers and finance do ----------------------------------------

    @rule(
        deal=pick,
        user=pick,
        quantity=st.integers(1, 3),
        then=st.sampled_from(["pay", "pay", "pay", "decline", "walk away", "leave it unpaid"]),
        deliveries=st.integers(0, 3),
    )
    def buy(self, deal, user, quantity, then, deliveries):
        """Place an order and, mostly, pay for it at once: the notification arrives 0-3 times
        (0: late, heard of on the return page or not at all); "walk away" leaves the hosted
        page open, to be paid later, perhaps too late."""
        deal, user = self.deals[deal % 2], self.users[user % USERS]
        order = self.step(
            "create",
            lambda: order_services.order_create_for_deal(user=user, deal_id=deal.pk, quantity=quantity, now=self.now),
        )
        if order is None:
            return
        self.orders.append(order)
        if then == "leave it unpaid":
            return
        payment, _url = self.step("pay", lambda: start_payment(order, now=self.now))  # just created: payable
        if then != "walk away":
            self.answer(payment, succeed=then == "pay", deliveries=deliveries)

    @rule(
        deal=pick,
        user=pick,
        quantity=st.integers(1, 3),
        then=st.sampled_from(["pay", "walk away"]),
        deliveries=st.integers(1, 2),
    )
    def another_buyer_buys(self, deal, user, quantity, then, deliveries):
        """Buying is what happens most."""
        self.buy(deal, user, quantity, then, deliveries)

    def answer(self, payment, *, succeed, deliveries):
        press_button(payment, succeed=succeed)
        body, headers = signed_notification(payment, kind="payment.succeeded" if succeed else "payment.failed")
        for _ in range(deliveries):
            outcome = self.step("pay", lambda: receive_notification(body, headers, now=self.now))
            assert outcome in {"processed", "duplicate"}

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def press_pay_again(self, i):
        order = self.order(i)
        self.step("pay", lambda: start_payment(order, now=self.now))

    @precondition(lambda self: SandboxCharge.objects.filter(status="open").exists())
    @rule(i=pick, succeed=st.booleans(), deliveries=st.integers(0, 3))
    def payer_comes_back_to_the_hosted_page(self, i, succeed, deliveries):
        charges = list(SandboxCharge.objects.filter(status="open").order_by("pk"))
        charge = charges[i % len(charges)]
        self.answer(Payment.objects.get(reference=charge.merchant_reference), succeed=succeed, deliveries=deliveries)

    @precondition(lambda self: Payment.objects.filter(status=Payment.Status.CREATED).exists())
    @rule(i=pick)
    def payer_opens_the_return_page(self, i):
        payments = list(Payment.objects.filter(status=Payment.Status.CREATED).order_by("pk"))
        payment = payments[i % len(payments)]
        self.step("pay", lambda: payment_services.payment_sync(payment=payment, now=self.now))

    @rule(minutes=st.sampled_from([1, 7, 16, 60 * 6, 60 * 24, 60 * 24 * 3]))
    def time_passes(self, minutes):
        self.now += dt.timedelta(minutes=minutes)

    @rule(sweep=st.booleans())
    def periodic_jobs_run(self, sweep):
        """Beat: unpaid orders past their 15 minutes are cancelled, expired vouchers refunded,
        and (when the gateway is up) refunds stuck for a while are sent again."""
        self.step("cancel", lambda: order_services.orders_expire_due(now=self.now))
        self.step("refund", lambda: payment_services.vouchers_expire_and_refund(now=self.now))
        if sweep and django_settings.SANDBOX_REFUND_FAILURE_RATE == 0.0:
            # a gateway that is down would fail the eager task here; a real worker just retries
            self.now += dt.timedelta(minutes=3)
            payment_services.refunds_retry_stuck(now=self.now)

    @precondition(lambda self: self.orders)
    @rule(i=pick, mask=st.integers(1, 2**10 - 1))
    def buyer_refunds_some_vouchers(self, i, mask):
        order = self.order(i)
        ids = list(order.vouchers.values_list("pk", flat=True))
        chosen = [pk for bit, pk in enumerate(ids) if mask >> bit & 1]
        if chosen:
            self.step(
                "refund", lambda: payment_services.vouchers_refund(order=order, user=order.user, voucher_ids=chosen)
            )

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def buyer_refunds_everything_unused(self, i):
        order = self.order(i)
        if order.kind == Order.Kind.DEAL and order.paid_at is not None:
            self.step("refund", lambda: payment_services.vouchers_refund(order=order, user=order.user))

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def buyer_cancels_unpaid(self, i):
        order = self.order(i)
        self.step("cancel", lambda: order_services.order_cancel_unpaid(order=order, actor=order.user, now=self.now))

    @precondition(lambda self: self.orders)
    @rule(i=pick, share=st.sampled_from(["0.01", "0.10", "0.50", "1.00"]))
    def finance_refunds_part_of_an_order(self, i, share):
        order = self.order(i)
        amount = max((order.total * Decimal(share)).quantize(Decimal("0.01")), Decimal("0.01"))
        self.step(
            "finance",
            lambda: payment_services.refund_by_finance(order=order, amount=amount, note="goodwill", actor=self.finance),
        )

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def clerk_redeems_a_voucher(self, i):
        """Redemption is not built yet: a voucher used in store is marked as such."""
        voucher = self.order(i).vouchers.filter(status=Voucher.Status.VALID, valid_until__gt=self.now).first()
        if voucher is not None:
            Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.REDEEMED, redeemed_at=self.now)

    @rule(down=st.booleans())
    def gateway_refund_service(self, down):
        django_settings.SANDBOX_REFUND_FAILURE_RATE = 1.0 if down else 0.0

    @precondition(lambda self: Refund.objects.exclude(status=Refund.Status.SUCCEEDED).exists())
    @rule(i=pick)
    def task_retries_a_refund(self, i):
        refunds = list(Refund.objects.exclude(status=Refund.Status.SUCCEEDED).order_by("pk"))
        try:
            payment_services.refund_execute(refund_id=refunds[i % len(refunds)].pk)
        except (GatewayError, Retry):
            assert django_settings.SANDBOX_REFUND_FAILURE_RATE == 1.0

    # --- what must hold -----------------------------------------------------------------------

    @invariant()
    def every_entry_balances(self):
        if hasattr(self, "deals"):
            TALLY["rules run"] += 1
            assert unbalanced_entries() == []

    @invariant()
    def stock_and_limits_match_the_live_orders(self):
        if not hasattr(self, "deals"):
            return
        taken, sold, held = live_units(self.deals)
        for deal in Deal.objects.filter(pk__in=[d.pk for d in self.deals]):
            assert deal.units_taken == taken[deal.pk], deal
            assert deal.units_sold == sold[deal.pk], deal
            if deal.stock is not None:
                assert deal.units_taken <= deal.stock
        quotas = {(q.deal_id, q.user_id): q.units for q in DealQuota.objects.filter(deal__in=self.deals)}
        for deal in self.deals:
            for user in self.users:
                assert quotas.get((deal.pk, user.pk), 0) == held[deal.pk, user.pk], (deal, user)
                assert held[deal.pk, user.pk] <= deal.per_user_limit

    def settle_and_check(self):
        """The end of the day: payers' result pages, the gateway back up, the sweep, then the books."""
        django_settings.SANDBOX_REFUND_FAILURE_RATE = 0.0
        for payment in Payment.objects.filter(status=Payment.Status.CREATED):
            self.step("pay", lambda payment=payment: payment_services.payment_sync(payment=payment, now=self.now))
        payment_services.refunds_retry_stuck(now=self.now + dt.timedelta(hours=1))

        assert unbalanced_entries() == []
        assert run_checks() == []
        self.stock_and_limits_match_the_live_orders()
        # every refund reached the gateway exactly once
        assert set(Refund.objects.values_list("status", flat=True)) <= {Refund.Status.SUCCEEDED}
        assert SandboxRefund.objects.count() == Refund.objects.count()
        assert total(SandboxRefund.objects) == total(Refund.objects)
        paid = total(Payment.objects.filter(status=Payment.Status.SUCCEEDED))
        assert gateway_cash() == paid - total(Refund.objects) >= ZERO
        for payment in Payment.objects.filter(status=Payment.Status.SUCCEEDED).select_related("order"):
            refunded = total(payment.refunds)
            assert refunded <= payment.amount
            order = payment.order
            if order.status == Order.Status.CANCELLED:
                # paid after it expired: the whole payment went back, and no voucher exists
                assert payment.refunds.filter(reason=Refund.Reason.LATE_PAYMENT).get().amount == payment.amount
                assert not order.vouchers.exists()
            else:
                assert total(order.vouchers) == order.total
                assert order.vouchers.count() == order.items.aggregate(n=Sum("quantity"))["n"]
                if not order.vouchers.exclude(status=Voucher.Status.REFUNDED).exists():
                    assert order.status == Order.Status.COMPLETED
        self.tally_what_happened()
        # a charge paid at the gateway is a payment the platform knows was paid
        paid_refs = set(SandboxCharge.objects.filter(status="paid").values_list("merchant_reference", flat=True))
        assert paid_refs == set(
            Payment.objects.filter(status=Payment.Status.SUCCEEDED).values_list("reference", flat=True)
        )

    def tally_what_happened(self):
        """Count what this run did, so the test can show it exercised every path."""
        TALLY["runs"] += 1
        TALLY["steps"] += self.steps
        TALLY["orders"] += len(self.orders)
        TALLY["paid orders"] += Order.objects.filter(paid_at__isnull=False).count()
        TALLY["failed payments"] += Payment.objects.filter(status=Payment.Status.FAILED).count()
        TALLY["expired unpaid orders"] += Order.objects.filter(cancel_reason="expired").count()
        for reason in Refund.objects.values_list("reason", flat=True):
            TALLY[f"refunds: {reason}"] += 1
        TALLY["refunds capped"] += Refund.objects.exclude(note="").filter(reason__in=["consumer", "expired"]).count()
        TALLY["refunds retried"] += Refund.objects.filter(attempts__gt=1).count()
        TALLY["vouchers redeemed"] += Voucher.objects.filter(status=Voucher.Status.REDEEMED).count()
        TALLY["completed orders"] += Order.objects.filter(status=Order.Status.COMPLETED).count()
        for (kind, code), n in self.refusals.items():
            TALLY[f"refused: {kind} {code}"] += n


TALLY = Counter()


def total(queryset):
    value = queryset.aggregate(s=Sum("amount"))["s"]
    return ZERO if value is None else Decimal(value).quantize(Decimal("0.01"))


def live_units(deals):
    """Units of each deal in live orders less the refunded ones (what it has taken), the same
    for paid orders (what it has sold), and per buyer (what counts against their limit)."""
    taken, sold, held = Counter(), Counter(), Counter()
    items = OrderItem.objects.filter(deal__in=deals, order__status__in=LIVE).values_list(
        "deal_id", "order__user_id", "order__paid_at", "quantity"
    )
    refunded = Voucher.objects.filter(deal__in=deals, order__status__in=LIVE, status=Voucher.Status.REFUNDED)
    units = [(row[:3], row[3]) for row in items]
    units += [(row, -1) for row in refunded.values_list("deal_id", "order__user_id", "order__paid_at")]
    for (deal_id, user_id, paid_at), n in units:
        taken[deal_id] += n
        held[deal_id, user_id] += n
        if paid_at is not None:
            sold[deal_id] += n
    return taken, sold, held


def test_random_runs_keep_the_books_and_the_stock_right(db, settings):
    # Recorded by the fixture so that whatever a run leaves behind is undone after the test.
    settings.SANDBOX_DUPLICATE_RATE = 0
    settings.SANDBOX_REFUND_FAILURE_RATE = 0.0
    TALLY.clear()
    run_state_machine_as_test(MoneyMachine, settings=runs())

    # the runs went down every road, not just the easy ones
    print("\n".join(f"{key}: {n}" for key, n in sorted(TALLY.items())))
    for path in [
        "paid orders",
        "failed payments",
        "expired unpaid orders",
        "refunds: consumer",
        "refunds: expired",
        "refunds: admin",
        "refunds: late_payment",
        "refunds capped",
        "refunds retried",
        "completed orders",
        "refused: create sold_out",
        "refused: refund voucher_not_refundable",
        "refused: finance over_refund",
    ]:
        assert TALLY[path] > 0, path


def runs():
    return hypothesis_settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=os.environ.get("HYPOTHESIS_EXPLORE") != "1",
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        print_blob=True,
    )
