"""The interface every payment gateway implements. A real one (Alipay, WeChat Pay, Stripe)
is another subclass, chosen by the PAYMENT_GATEWAY setting."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string


class GatewayError(Exception):
    """The gateway could not be reached or refused for now: the caller retries later."""


class BadNotification(Exception):
    """A notification that must not be trusted: bad signature, stale, malformed."""


@dataclass(frozen=True)
class Notification:
    event_id: str
    kind: str  # "payment.succeeded" | "payment.failed"
    reference: str  # our Payment.reference
    transaction_id: str
    amount: Decimal
    currency: str
    payload: dict


@dataclass(frozen=True)
class ChargeState:
    status: str  # "open" | "paid" | "failed"
    transaction_id: str
    amount: Decimal


class Gateway:
    name = "base"

    def create_payment(self, payment, *, return_url, notify_url):
        """Register the payment with the gateway; return the hosted page URL for the payer."""
        raise NotImplementedError

    def parse_notification(self, body, headers):
        """Verify a notification's signature and freshness; return a Notification or raise
        BadNotification."""
        raise NotImplementedError

    def query(self, payment):
        """Ask the gateway what became of a payment (ChargeState)."""
        raise NotImplementedError

    def refund(self, payment, *, amount, idempotency_key):
        """Refund `amount` of a paid payment. The same key never refunds twice. Returns the
        gateway's refund id; raises GatewayError when it should be retried."""
        raise NotImplementedError


def get_gateway(name=None):
    gateways = settings.PAYMENT_GATEWAYS
    return import_string(gateways[name or settings.PAYMENT_GATEWAY])()
