"""Check the ledger against payments, refunds, orders and vouchers. Each check yields the
differences it finds as plain sentences; no difference means the books agree.

Sums are rounded to cents before they are compared or shown: SQLite (the embedded default)
adds decimals as binary floats, so 0.10 + 0.20 - 0.30 comes back as 5.55E-17 and 130 - 133.20
as -3.19999999999999. The database filters pick candidates; Python decides on exact cents.
"""

from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from orders.models import Order

from .models import Account, LedgerEntry, LedgerLine, Payment, Refund

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def cents(value):
    """A database sum as exact money (None stays None: nothing was booked)."""
    return None if value is None else Decimal(value).quantize(CENT)


def unbalanced_entries():
    rows = LedgerEntry.objects.annotate(total=Sum("lines__amount"), n=Count("lines")).filter(
        ~Q(total=0) | Q(n=0) | Q(total__isnull=True)
    )
    for entry in rows:
        if entry.n == 0 or cents(entry.total) != ZERO:
            yield f"ledger entry {entry.key} sums to {cents(entry.total)} over {entry.n} lines"


def payments_without_entry():
    booked = {
        key.split(":", 1)[1]: cents(total)
        for key, total in LedgerLine.objects.filter(entry__kind=LedgerEntry.Kind.PAYMENT, account=Account.GATEWAY_CASH)
        .values_list("entry__key")
        .annotate(total=Sum("amount"))
    }
    for payment in Payment.objects.filter(status=Payment.Status.SUCCEEDED).only("pk", "amount", "reference"):
        total = booked.pop(str(payment.pk), None)
        if total != payment.amount:
            yield f"payment {payment.reference} of {payment.amount} is booked as {total}"
    for payment_id, total in booked.items():
        yield f"ledger has a payment entry for payment #{payment_id} ({total}) that did not succeed"


def refunds_without_entry():
    booked = {
        key.split(":", 1)[1]: cents(total)
        for key, total in LedgerLine.objects.filter(entry__kind=LedgerEntry.Kind.REFUND, account=Account.CLEARING)
        .values_list("entry__key")
        .annotate(total=Sum("amount"))
    }
    for refund in Refund.objects.filter(status=Refund.Status.SUCCEEDED).only("pk", "amount"):
        total = booked.pop(str(refund.pk), None)
        if total != refund.amount:
            yield f"refund #{refund.pk} of {refund.amount} is booked as {total}"
    for refund_id, total in booked.items():
        yield f"ledger has a refund entry for refund #{refund_id} ({total}) that did not succeed"


def over_refunded_payments():
    rows = Payment.objects.annotate(refunded=Sum("refunds__amount")).filter(refunded__gt=F("amount"))
    for payment in rows:
        if cents(payment.refunded) > payment.amount:
            yield f"payment {payment.reference} refunded {cents(payment.refunded)} of {payment.amount}"


def paid_orders_without_payment():
    paid_states = [
        Order.Status.PAID,
        Order.Status.COMPLETED,
        Order.Status.CONFIRMED,
        Order.Status.CHECKED_IN,
        Order.Status.NO_SHOW,
        Order.Status.CANCELLED_BY_CONSUMER,
        Order.Status.CANCELLED_BY_MERCHANT,
    ]
    rows = (
        Order.objects.filter(status__in=paid_states, total__gt=0)
        .exclude(payments__status=Payment.Status.SUCCEEDED)
        .values_list("number", flat=True)
    )
    for number in rows:
        yield f"order {number} counts as paid but has no successful payment"


def vouchers_not_matching_orders():
    # An order without any voucher sums to NULL, which no comparison catches: ask for it.
    rows = (
        Order.objects.filter(kind=Order.Kind.DEAL, paid_at__isnull=False)
        .annotate(voucher_total=Sum("vouchers__amount"))
        .filter(Q(voucher_total__isnull=True) | ~Q(voucher_total=F("total")))
    )
    for order in rows:
        if cents(order.voucher_total) != order.total:
            yield f"order {order.number}: vouchers add up to {cents(order.voucher_total)}, the order to {order.total}"


def refunds_not_matching_vouchers():
    """Voucher refunds return exactly the vouchers' amounts, or less when earlier refunds
    (platform finance's) had left less of the payment and this refund took all the rest."""
    rows = (
        Refund.objects.filter(reason__in=[Refund.Reason.CONSUMER, Refund.Reason.EXPIRED])
        .annotate(voucher_total=Sum("vouchers__amount"))
        .filter(Q(voucher_total__isnull=True) | ~Q(voucher_total=F("amount")))
        .select_related("payment")
    )
    for refund in rows:
        voucher_total = cents(refund.voucher_total)
        if voucher_total == refund.amount:
            continue
        if voucher_total is not None and refund.amount < voucher_total:
            earlier = (
                Refund.objects.filter(payment_id=refund.payment_id, pk__lt=refund.pk).aggregate(s=Sum("amount"))["s"]
                or ZERO
            )
            if cents(earlier) + refund.amount == refund.payment.amount:
                continue  # capped at what was left
        yield f"refund #{refund.pk} of {refund.amount} covers vouchers worth {voucher_total}"


def clearing_balance():
    paid = Payment.objects.filter(status=Payment.Status.SUCCEEDED).aggregate(s=Sum("amount"))["s"] or ZERO
    refunded = Refund.objects.filter(status=Refund.Status.SUCCEEDED).aggregate(s=Sum("amount"))["s"] or ZERO
    moved_out = (
        LedgerLine.objects.filter(account=Account.CLEARING)
        .exclude(entry__kind__in=[LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REFUND])
        .aggregate(s=Sum("amount"))["s"]
        or ZERO
    )
    expected = cents(-(cents(paid) - cents(refunded)) + cents(moved_out))
    actual = cents(LedgerLine.objects.filter(account=Account.CLEARING).aggregate(s=Sum("amount"))["s"] or ZERO)
    if actual != expected:
        yield f"clearing account holds {actual}, payments less refunds say {expected}"


CHECKS = [
    unbalanced_entries,
    payments_without_entry,
    refunds_without_entry,
    over_refunded_payments,
    paid_orders_without_payment,
    vouchers_not_matching_orders,
    refunds_not_matching_vouchers,
    clearing_balance,
]


def run_checks(checks=None):
    problems = []
    for check in checks or CHECKS:
        problems.extend(check())
    return problems
