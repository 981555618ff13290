"""Paying for orders the way it really happens: the platform starts a payment, the payer
presses a button on the sandbox gateway's hosted page, and the gateway's signed notification
reaches the platform (through the notify endpoint, or straight into the service).

Nothing here writes a payment, a refund or a ledger line itself: every row comes from the
services that users, the gateway and workers trigger.
"""

import dataclasses
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.urls import reverse

from orders import services as order_services
from payments import ledger
from payments import services as payment_services
from payments.gateways.sandbox import build_notification, sandbox_complete_charge
from payments.models import Account, LedgerEntry, SandboxCharge
from payments.reconcile import cents, run_checks

BASE_URL = "http://testserver"


def build_url(path):
    """What request.build_absolute_uri does in the test client's world."""
    return BASE_URL + path


def start_payment(order, *, now=None):
    """The payer presses "Pay": (payment, hosted page URL)."""
    return payment_services.payment_start(order=order, user=order.user, build_url=build_url, now=now)


def charge_of(payment):
    """The sandbox gateway's own record of a payment."""
    return SandboxCharge.objects.get(merchant_reference=payment.reference)


def press_button(payment, *, succeed=True):
    """The payer presses "Pay now" (or "Decline") on the hosted page; no notification yet."""
    return sandbox_complete_charge(charge_of(payment), succeed=succeed)


def signed_notification(payment, *, kind="payment.succeeded", timestamp=None, event_id=None, **overrides):
    """The exact bytes and headers the sandbox gateway would post for `payment`.

    `overrides` change what the gateway says (amount, merchant_reference, ...) while still
    signing it with the gateway's secret, as a buggy or confused gateway would.
    """
    charge = charge_of(payment)
    if overrides:
        charge = dataclasses.replace(_ChargeView.of(charge), **overrides)
    return build_notification(charge, kind=kind, event_id=event_id, timestamp=timestamp)


@dataclasses.dataclass
class _ChargeView:
    """The fields of a SandboxCharge that a notification carries, so tests can vary them
    without saving anything."""

    transaction_id: str
    merchant_reference: str
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, charge):
        return cls(charge.transaction_id, charge.merchant_reference, charge.amount, charge.currency)


def post_notification(client, body, headers, *, gateway="sandbox"):
    """Post a notification to the platform's notify endpoint, as the gateway does."""
    return client.post(
        reverse("payments:notify", args=[gateway]), data=body, content_type="application/json", headers=headers
    )


def receive_notification(body, headers, *, now=None):
    """The notify endpoint's work without HTTP (the service it calls)."""
    return payment_services.notification_receive(gateway_name="sandbox", body=body, headers=headers, now=now)


def pay(order, *, now=None, deliveries=1, succeed=True, client=None):
    """Pay `order` end to end through the sandbox. The notification is delivered
    `deliveries` times, through `client` (HTTP) when given. Returns the payment."""
    payment, _url = start_payment(order, now=now)
    press_button(payment, succeed=succeed)
    body, headers = signed_notification(payment, kind="payment.succeeded" if succeed else "payment.failed")
    for _ in range(deliveries):
        if client is not None:
            response = post_notification(client, body, headers)
            assert response.status_code == 200, response.content
        else:
            receive_notification(body, headers, now=now)
    order.refresh_from_db()
    payment.refresh_from_db()
    return payment


def paid_deal_order(user, deal, quantity=1, *, now=None):
    """A deal order created and paid as a buyer does it; its vouchers are issued."""
    order = order_services.order_create_for_deal(user=user, deal_id=deal.pk, quantity=quantity, now=now)
    pay(order, now=now)
    assert order.status == order.Status.PAID, order.status
    return order


def paid_booking_order(user, service, start, party_size=2, *, now=None):
    """A booking made and prepaid through the sandbox; confirmed, with its voucher."""
    order = order_services.order_create_for_booking(
        user=user, service_id=service.pk, start=start, party_size=party_size, now=now
    )
    pay(order, now=now)
    assert order.status == order.Status.CONFIRMED, order.status
    return order


# --- what finance looks at ------------------------------------------------------------------


def entry_lines(entry):
    """{account: amount} of one ledger entry."""
    return dict(entry.lines.values_list("account").annotate(total=Sum("amount")))


def unbalanced_entries():
    """Keys of ledger entries whose lines do not sum to zero (or that have no lines), in exact
    cents: SQLite adds decimals as floats, so 0.10 + 0.20 - 0.30 comes back as 5.55E-17."""
    rows = LedgerEntry.objects.annotate(total=Sum("lines__amount"), n=Count("lines")).filter(
        ~Q(total=0) | Q(n=0) | Q(total__isnull=True)
    )
    return [entry.key for entry in rows if entry.n == 0 or cents(entry.total) != Decimal("0.00")]


def gateway_cash():
    """What the gateway holds for the platform: payments in, refunds out."""
    return ledger.balance(Account.GATEWAY_CASH)


def assert_books_clean():
    """Every entry balances and the reconciliation finds no difference."""
    assert unbalanced_entries() == []
    assert run_checks() == []
