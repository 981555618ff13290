"""A built-in gateway that behaves like an outside one: its own books (SandboxCharge), a
hosted payment page, HMAC-SHA256 signed and timestamped notifications posted to the
platform's notify endpoint — sometimes twice, sometimes late — and idempotent refunds."""

import hashlib
import hmac
import json
import secrets
import time
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ..models import SandboxCharge, SandboxRefund
from .base import BadNotification, ChargeState, Gateway, GatewayError, Notification

SIGNATURE_HEADER = "X-Sandbox-Signature"
TIMESTAMP_HEADER = "X-Sandbox-Timestamp"


def sign(body: bytes, timestamp: int, secret: str | None = None) -> str:
    secret = secret or settings.SANDBOX_GATEWAY_SECRET
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def build_notification(charge, *, kind, event_id=None, timestamp=None):
    """The exact bytes and headers the sandbox posts to the platform."""
    body = json.dumps(
        {
            "event_id": event_id or f"evt_{charge.transaction_id}_{kind}",
            "type": kind,
            "merchant_reference": charge.merchant_reference,
            "transaction_id": charge.transaction_id,
            "amount": str(charge.amount),
            "currency": charge.currency,
        },
        separators=(",", ":"),
    ).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    return body, {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(body, timestamp)}


class SandboxGateway(Gateway):
    name = "sandbox"

    def create_payment(self, payment, *, return_url, notify_url):
        charge, _created = SandboxCharge.objects.get_or_create(
            merchant_reference=payment.reference,
            defaults={
                "transaction_id": "sbx_" + secrets.token_hex(10),
                "amount": payment.amount,
                "currency": payment.currency,
                "notify_url": notify_url,
                "return_url": return_url,
            },
        )
        return reverse("payments:sandbox_page", args=[charge.transaction_id])

    def parse_notification(self, body, headers):
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        # ASCII only: "²".isdigit() is true but int() refuses it, and compare_digest raises
        # TypeError on non-ASCII text; either would be a 500 instead of a refusal.
        if not (timestamp.isascii() and timestamp.isdigit()) or not signature or not signature.isascii():
            raise BadNotification("missing signature or timestamp")
        if abs(time.time() - int(timestamp)) > settings.SANDBOX_GATEWAY_TOLERANCE_SECONDS:
            raise BadNotification("stale timestamp")
        if not hmac.compare_digest(sign(body, int(timestamp)), signature):
            raise BadNotification("bad signature")
        try:
            data = json.loads(body)
            return Notification(
                event_id=str(data["event_id"]),
                kind=str(data["type"]),
                reference=str(data["merchant_reference"]),
                transaction_id=str(data["transaction_id"]),
                amount=Decimal(str(data["amount"])),
                currency=str(data["currency"]),
                payload=data,
            )
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
            raise BadNotification(f"malformed body: {exc}") from exc

    def query(self, payment):
        charge = SandboxCharge.objects.filter(merchant_reference=payment.reference).first()
        if charge is None:
            return ChargeState(status="open", transaction_id="", amount=payment.amount)
        return ChargeState(status=charge.status, transaction_id=charge.transaction_id, amount=charge.amount)

    @transaction.atomic
    def refund(self, payment, *, amount, idempotency_key):
        existing = SandboxRefund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing.refund_id
        if (
            settings.SANDBOX_REFUND_FAILURE_RATE
            and secrets.randbelow(1000) < settings.SANDBOX_REFUND_FAILURE_RATE * 1000
        ):
            raise GatewayError("sandbox: refund service temporarily unavailable")
        charge = SandboxCharge.objects.select_for_update().filter(merchant_reference=payment.reference).first()
        if charge is None or charge.status != "paid":
            raise GatewayError("sandbox: no paid charge for this payment")
        # Race: the same refund sent twice at once (a task retry and the periodic sweep) both
        # found no refund above; the second one waited for the charge lock and looks again.
        existing = SandboxRefund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing.refund_id
        refunded = sum((r.amount for r in charge.refunds.all()), Decimal("0.00"))
        if refunded + amount > charge.amount:
            raise GatewayError("sandbox: refund exceeds the charge")
        refund = SandboxRefund.objects.create(
            charge=charge, idempotency_key=idempotency_key, refund_id="sbr_" + secrets.token_hex(10), amount=amount
        )
        return refund.refund_id


def sandbox_complete_charge(charge, *, succeed):
    """The payer pressed a button on the hosted page."""
    with transaction.atomic():
        charge = SandboxCharge.objects.select_for_update().get(pk=charge.pk)
        if charge.status == "open":
            charge.status = "paid" if succeed else "failed"
            charge.paid_at = timezone.now() if succeed else None
            charge.save(update_fields=["status", "paid_at"])
    return charge
