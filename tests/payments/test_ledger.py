"""The double-entry ledger and the reconciliation that finance runs (DESIGN §5): every entry
balances, each business event is booked once, and any difference between the ledger and the
payments, refunds, orders and vouchers is found and shown — and fails the command."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from coupons.models import Voucher
from payments import ledger
from payments import services as payment_services
from payments.models import Account, LedgerEntry, LedgerLine, Payment, Refund
from payments.reconcile import run_checks
from tests.factories.catalogue import DealFactory, deal_order
from tests.factories.payments import assert_books_clean, entry_lines, paid_deal_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer(user_factory):
    return user_factory()


@pytest.fixture
def order(buyer):
    return paid_deal_order(buyer, DealFactory(price=Decimal("66.60")), 2)


@pytest.fixture
def refunded(buyer, order, django_capture_on_commit_callbacks):
    """The order with one of its two vouchers refunded (66.60 of 133.20)."""
    with django_capture_on_commit_callbacks(execute=True):
        payment_services.vouchers_refund(order=order, user=buyer, voucher_ids=[order.vouchers.first().pk])
    return order


def reconcile():
    """Run the command as finance does: (passed, stdout, stderr)."""
    import io

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("reconcile", stdout=out, stderr=err)
    except CommandError as exc:
        return False, out.getvalue(), err.getvalue() + str(exc)
    return True, out.getvalue(), err.getvalue()


# --- posting ----------------------------------------------------------------------------------------


def test_an_unbalanced_entry_is_never_written():
    with pytest.raises(ledger.UnbalancedEntry):
        ledger.post(
            kind=LedgerEntry.Kind.ADJUSTMENT,
            key="adjust:1",
            lines=[(Account.CLEARING, Decimal("10.00"), None), (Account.BANK, Decimal("-9.99"), None)],
        )
    with pytest.raises(ledger.UnbalancedEntry):
        ledger.post(kind=LedgerEntry.Kind.ADJUSTMENT, key="adjust:2", lines=[])

    assert not LedgerEntry.objects.exists() and not LedgerLine.objects.exists()


def test_posting_the_same_event_twice_books_it_once():
    lines = [(Account.CLEARING, Decimal("10.00"), None), (Account.BANK, Decimal("-10.00"), None)]

    first = ledger.post(kind=LedgerEntry.Kind.ADJUSTMENT, key="adjust:1", lines=lines)
    second = ledger.post(kind=LedgerEntry.Kind.ADJUSTMENT, key="adjust:1", lines=lines)

    assert first.pk == second.pk
    assert LedgerLine.objects.count() == 2
    assert ledger.balance(Account.BANK) == Decimal("-10.00")


def test_zero_lines_are_left_out():
    entry = ledger.post(
        kind=LedgerEntry.Kind.ADJUSTMENT,
        key="adjust:1",
        lines=[
            (Account.CLEARING, Decimal("5.00"), None),
            (Account.PLATFORM_SUBSIDY, Decimal("0.00"), None),
            (Account.BANK, Decimal("-5.00"), None),
        ],
    )

    assert entry_lines(entry) == {"clearing": Decimal("5.00"), "bank": Decimal("-5.00")}


def test_sums_are_exact_cents_on_every_database():
    """SQLite adds decimals as floats: 0.10 + 0.20 - 0.30 must still be a balanced entry."""
    ledger.post(
        kind=LedgerEntry.Kind.ADJUSTMENT,
        key="adjust:1",
        lines=[
            (Account.CLEARING, Decimal("0.10"), None),
            (Account.CLEARING, Decimal("0.20"), None),
            (Account.BANK, Decimal("-0.30"), None),
        ],
    )
    ledger.post(
        kind=LedgerEntry.Kind.ADJUSTMENT,
        key="adjust:2",
        lines=[
            (Account.BANK, Decimal("133.20"), None),
            (Account.CLEARING, Decimal("-130.00"), None),
            (Account.CLEARING, Decimal("-3.20"), None),
        ],
    )

    assert ledger.balance(Account.CLEARING) == Decimal("-132.90")
    assert str(ledger.balance(Account.BANK)) == "132.90"
    assert run_checks() == []


def test_a_payment_and_a_refund_leave_the_difference_at_the_gateway(refunded):
    payment = Payment.objects.get()
    refund = Refund.objects.get()
    assert entry_lines(LedgerEntry.objects.get(key=f"payment:{payment.pk}")) == {
        "gateway_cash": Decimal("133.20"),
        "clearing": Decimal("-133.20"),
    }
    assert entry_lines(LedgerEntry.objects.get(key=f"refund:{refund.pk}")) == {
        "clearing": Decimal("66.60"),
        "gateway_cash": Decimal("-66.60"),
    }
    assert ledger.balance(Account.GATEWAY_CASH) == Decimal("66.60")
    assert ledger.balance(Account.CLEARING) == Decimal("-66.60")
    assert_books_clean()


# --- reconciliation finds each kind of difference -------------------------------------------------


def test_clean_books_pass_the_command(refunded):
    passed, out, err = reconcile()

    assert passed, err
    assert "The books agree." in out
    assert err == ""


def test_the_command_passes_on_an_empty_ledger():
    assert reconcile()[0]


def test_a_tampered_ledger_line_fails_the_command_and_shows_the_difference(refunded):
    payment = Payment.objects.get()
    LedgerLine.objects.filter(entry__key=f"payment:{payment.pk}", account=Account.GATEWAY_CASH).update(
        amount=Decimal("130.00")
    )

    passed, _out, err = reconcile()

    assert not passed
    assert f"ledger entry payment:{payment.pk} sums to -3.20 over 2 lines" in err
    assert f"payment {payment.reference} of 133.20 is booked as 130.00" in err
    assert "difference(s) found" in err


def test_a_tampered_refund_line_is_found(refunded):
    refund = Refund.objects.get()
    LedgerLine.objects.filter(entry__key=f"refund:{refund.pk}").update(amount=Decimal("1.00"))

    problems = run_checks()

    assert f"ledger entry refund:{refund.pk} sums to 2.00 over 2 lines" in problems
    assert f"refund #{refund.pk} of 66.60 is booked as 1.00" in problems


def test_a_payment_missing_from_the_ledger_is_found(order):
    payment = Payment.objects.get()
    entry = LedgerEntry.objects.get(key=f"payment:{payment.pk}")
    entry.lines.all().delete()
    entry.delete()

    problems = run_checks()

    assert f"payment {payment.reference} of 133.20 is booked as None" in problems
    assert any(p.startswith("clearing account holds 0") for p in problems)


def test_a_refund_missing_from_the_ledger_is_found(refunded):
    refund = Refund.objects.get()
    LedgerLine.objects.filter(entry__key=f"refund:{refund.pk}").delete()
    LedgerEntry.objects.filter(key=f"refund:{refund.pk}").delete()

    assert f"refund #{refund.pk} of 66.60 is booked as None" in run_checks()


def test_an_over_refunded_payment_is_found(refunded):
    payment = Payment.objects.get()
    Refund.objects.update(amount=Decimal("200.00"))  # written behind the services' back

    assert f"payment {payment.reference} refunded 200.00 of 133.20" in run_checks()


def test_an_order_paid_without_a_payment_is_found(buyer):
    order = deal_order(buyer, DealFactory(), 1, paid=True)  # order_mark_paid, no money

    assert f"order {order.number} counts as paid but has no successful payment" in run_checks()


def test_vouchers_that_do_not_add_up_to_the_order_are_found(order):
    voucher = order.vouchers.first()
    Voucher.objects.filter(pk=voucher.pk).update(amount=Decimal("60.00"), list_price=Decimal("60.00"))

    assert f"order {order.number}: vouchers add up to 126.60, the order to 133.20" in run_checks()


def test_a_paid_deal_order_without_vouchers_is_found(order):
    Voucher.objects.filter(order=order).delete()

    assert any(p.startswith(f"order {order.number}: vouchers add up to None") for p in run_checks())


def test_a_voucher_refund_that_does_not_match_its_vouchers_is_found(refunded):
    refund = Refund.objects.get()
    Voucher.objects.filter(order=refunded, status=Voucher.Status.VALID).update(refund=refund)

    assert f"refund #{refund.pk} of 66.60 covers vouchers worth 133.20" in run_checks()


def test_a_voucher_refund_without_its_vouchers_is_found(refunded):
    refund = Refund.objects.get()
    Voucher.objects.filter(refund=refund).update(refund=None)

    assert f"refund #{refund.pk} of 66.60 covers vouchers worth None" in run_checks()


def test_a_payment_amount_changed_after_booking_is_found(order):
    payment = Payment.objects.get()
    Payment.objects.update(amount=Decimal("100.00"))

    problems = run_checks()

    assert f"payment {payment.reference} of 100.00 is booked as 133.20" in problems
    assert "clearing account holds -133.20, payments less refunds say -100.00" in problems
