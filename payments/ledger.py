"""The double-entry journal. Debits are positive, credits negative; an entry's lines sum
to zero or it is not written. Each business event has one key, so posting twice is a no-op."""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum

from .models import Account, LedgerEntry, LedgerLine


class UnbalancedEntry(Exception):
    pass


def post(*, kind, key, lines, order=None, memo=""):
    """Write an entry from `lines` = [(account, amount, merchant_id or None)], or return the
    entry already written under `key`."""
    lines = [(account, Decimal(amount), merchant_id) for account, amount, merchant_id in lines if Decimal(amount)]
    total = sum((amount for _a, amount, _m in lines), Decimal("0.00"))
    if total != 0 or not lines:
        raise UnbalancedEntry(f"{key}: lines sum to {total}")
    existing = LedgerEntry.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(kind=kind, key=key, order=order, memo=memo[:200])
            LedgerLine.objects.bulk_create(
                LedgerLine(entry=entry, account=account, amount=amount, merchant_id=merchant_id)
                for account, amount, merchant_id in lines
            )
            return entry
    except IntegrityError:
        return LedgerEntry.objects.get(key=key)  # a concurrent poster won: same event


def post_payment(payment):
    return post(
        kind=LedgerEntry.Kind.PAYMENT,
        key=f"payment:{payment.pk}",
        order=payment.order,
        memo=f"payment {payment.reference}",
        lines=[(Account.GATEWAY_CASH, payment.amount, None), (Account.CLEARING, -payment.amount, None)],
    )


def post_refund(refund):
    return post(
        kind=LedgerEntry.Kind.REFUND,
        key=f"refund:{refund.pk}",
        order=refund.order,
        memo=f"refund {refund.idempotency_key}",
        lines=[(Account.CLEARING, refund.amount, None), (Account.GATEWAY_CASH, -refund.amount, None)],
    )


def balance(account, *, merchant_id=None):
    lines = LedgerLine.objects.filter(account=account)
    if merchant_id is not None:
        lines = lines.filter(merchant_id=merchant_id)
    total = lines.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
    # Exact cents: SQLite adds decimals as binary floats (0.10 + 0.20 - 0.30 is 5.55E-17).
    return Decimal(total).quantize(Decimal("0.01"))
