"""Platform finance in Django admin: every money page opens, a finance refund needs an amount
and a reason and goes through the gateway once, a failed refund can be sent again."""

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import Payment, Refund, SandboxRefund
from tests.factories.catalogue import DealFactory
from tests.factories.payments import assert_books_clean, paid_deal_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, user_factory):
    client.force_login(user_factory(username="finance", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def payment(user_factory):
    order = paid_deal_order(user_factory(), DealFactory(price=Decimal("50.00")), quantity=2)
    return Payment.objects.get(order=order)


@pytest.mark.parametrize(
    "model",
    [
        "payments_payment",
        "payments_refund",
        "payments_ledgerentry",
        "payments_gatewayevent",
        "orders_order",
        "coupons_voucher",
        "coupons_redemption",
        "orders_slotload",
    ],
)
def test_every_money_page_opens(admin_client, payment, model):
    assert admin_client.get(reverse(f"admin:{model}_changelist")).status_code == 200


def test_order_and_payment_change_pages_open_read_only(admin_client, payment):
    page = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200
    assert 'name="amount"' not in page.content.decode()
    assert admin_client.get(reverse("admin:orders_order_change", args=[payment.order_id])).status_code == 200


def test_finance_refund_asks_then_refunds_once(admin_client, payment, django_capture_on_commit_callbacks):
    url = reverse("admin:payments_payment_changelist")
    ask = admin_client.post(url, {"action": "refund_by_finance", "_selected_action": [payment.pk]})
    assert ask.status_code == 200 and "Left to refund" in ask.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            url,
            {
                "action": "refund_by_finance",
                "_selected_action": [payment.pk],
                "confirm": "yes",
                "amount": "30.00",
                "note": "goodwill after a complaint",
            },
        )

    refund = Refund.objects.get()
    assert refund.amount == Decimal("30.00") and refund.reason == "admin" and refund.status == "succeeded"
    assert SandboxRefund.objects.count() == 1
    assert_books_clean()


def test_finance_refund_without_reason_changes_nothing(admin_client, payment):
    url = reverse("admin:payments_payment_changelist")
    page = admin_client.post(
        url,
        {
            "action": "refund_by_finance",
            "_selected_action": [payment.pk],
            "confirm": "yes",
            "amount": "10.00",
            "note": "",
        },
    )
    assert page.status_code == 200
    assert not Refund.objects.exists()


def test_finance_refund_over_what_is_left_is_refused(admin_client, payment):
    url = reverse("admin:payments_payment_changelist")
    admin_client.post(
        url,
        {
            "action": "refund_by_finance",
            "_selected_action": [payment.pk],
            "confirm": "yes",
            "amount": "100.01",
            "note": "too much",
        },
    )
    assert not Refund.objects.exists()


def test_a_failed_refund_is_sent_again_from_admin(admin_client, payment, settings, django_capture_on_commit_callbacks):
    from payments import services

    settings.SANDBOX_REFUND_FAILURE_RATE = 1.0
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_by_finance(order=payment.order, amount=Decimal("5.00"), note="test", actor=None)
    refund.refresh_from_db()
    assert refund.status == "failed"

    settings.SANDBOX_REFUND_FAILURE_RATE = 0.0
    admin_client.post(reverse("admin:payments_refund_changelist"), {"action": "retry", "_selected_action": [refund.pk]})
    admin_client.post(reverse("admin:payments_refund_changelist"), {"action": "retry", "_selected_action": [refund.pk]})

    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert SandboxRefund.objects.filter(idempotency_key=str(refund.idempotency_key)).count() == 1
    assert_books_clean()
