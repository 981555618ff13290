"""Payments, refunds, the gateway's notifications and the double-entry ledger."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}


class Payment(models.Model):
    """One attempt to collect an order's total through a gateway."""

    class Status(models.TextChoices):
        CREATED = "created", _("Waiting for the payer")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Failed")

    reference = models.CharField(max_length=40, unique=True, help_text="Our id, sent to the gateway")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    gateway = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED)
    gateway_transaction = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    failed_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # However many notifications arrive, an order is paid once.
            models.UniqueConstraint(
                fields=["order"], condition=models.Q(status="succeeded"), name="one_success_per_order"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self):
        return self.reference


class GatewayEvent(models.Model):
    """A notification received from a gateway. The unique event id makes the hundredth
    delivery of the same notification a no-op."""

    gateway = models.CharField(max_length=20)
    event_id = models.CharField(max_length=80)
    payment = models.ForeignKey(Payment, null=True, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=30)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "event_id"], name="gateway_event_once")]

    def __str__(self):
        return f"{self.gateway}:{self.event_id}"


class Refund(models.Model):
    """Money going back to the payer. Created pending in the transaction that decides it;
    a task sends it to the gateway with `idempotency_key`, retried until the gateway answers."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being refunded")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Failed, being retried")

    class Reason(models.TextChoices):
        CONSUMER = "consumer", _("Requested by the consumer")
        EXPIRED = "expired", _("Voucher expired unused")
        BOOKING_CANCELLED = "booking_cancelled", _("Booking cancelled")
        MERCHANT_CANCELLED = "merchant_cancelled", _("Cancelled by the merchant")
        NO_SHOW = "no_show", _("No-show, fee kept")
        LATE_PAYMENT = "late_payment", _("Paid after the order expired")
        ADMIN = "admin", _("Platform finance")

    idempotency_key = models.CharField(max_length=64, unique=True, default=uuid.uuid4)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    gateway_refund_id = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self):
        return f"refund {self.amount} of {self.payment}"


class Account(models.TextChoices):
    """Ledger accounts. Signs: debit positive, credit negative; every entry sums to zero."""

    GATEWAY_CASH = "gateway_cash", _("Cash held at the payment gateway")
    CLEARING = "clearing", _("Consumer money awaiting settlement")
    MERCHANT_PAYABLE = "merchant_payable", _("Owed to merchants")
    COMMISSION_REVENUE = "commission_revenue", _("Commission revenue")
    PLATFORM_SUBSIDY = "platform_subsidy", _("Platform-funded coupon subsidy")
    BANK = "bank", _("Platform bank (payouts)")


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment received")
        REFUND = "refund", _("Refund paid out")
        SETTLEMENT = "settlement", _("Item settled to the merchant")
        CLAWBACK = "clawback", _("Refund of a settled item")
        PAYOUT = "payout", _("Payout to the merchant")
        ADJUSTMENT = "adjustment", _("Adjustment")

    kind = models.CharField(max_length=12, choices=Kind.choices)
    # One entry per business event: "payment:<id>", "refund:<id>", "settle:voucher:<id>"...
    key = models.CharField(max_length=80, unique=True)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = _("ledger entries")

    def __str__(self):
        return self.key


class LedgerLine(models.Model):
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.CharField(max_length=20, choices=Account.choices)
    merchant = models.ForeignKey(
        "merchants.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(**MONEY)

    class Meta:
        indexes = [models.Index(fields=["account", "merchant"], name="ledger_account_merchant")]
        constraints = [models.CheckConstraint(condition=~models.Q(amount=Decimal("0")), name="ledger_line_not_zero")]

    def __str__(self):
        return f"{self.account} {self.amount}"


class SandboxCharge(models.Model):
    """The sandbox gateway's own books: what an outside gateway would keep on its side."""

    transaction_id = models.CharField(max_length=40, unique=True)
    merchant_reference = models.CharField(max_length=40, unique=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    notify_url = models.CharField(max_length=300)
    return_url = models.CharField(max_length=300)
    status = models.CharField(max_length=10, default="open")  # open | paid | failed
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.transaction_id


class SandboxRefund(models.Model):
    charge = models.ForeignKey(SandboxCharge, on_delete=models.PROTECT, related_name="refunds")
    idempotency_key = models.CharField(max_length=64, unique=True)
    refund_id = models.CharField(max_length=40, unique=True)
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.refund_id
