"""Vouchers (the one-time codes shown in store) and their redemptions; campaigns and
coupons join them here."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from o2o.codes import grouped

MONEY = {"max_digits": 12, "decimal_places": 2}


class Voucher(models.Model):
    """One unit of a paid deal, one paid booking, or one claimed in-store coupon."""

    class Kind(models.TextChoices):
        DEAL = "deal", _("Deal voucher")
        BOOKING = "booking", _("Booking")
        COUPON = "coupon", _("In-store coupon")

    class Status(models.TextChoices):
        VALID = "valid", _("Valid")
        REDEEMED = "redeemed", _("Used")
        REFUNDED = "refunded", _("Refunded")
        EXPIRED = "expired", _("Expired")

    TRANSITIONS = {
        Status.VALID: {Status.REDEEMED, Status.REFUNDED, Status.EXPIRED},
        Status.REDEEMED: {Status.VALID},  # undo within the window
        Status.EXPIRED: {Status.REFUNDED},
    }

    code = models.CharField(max_length=12, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VALID)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vouchers")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="vouchers")
    store = models.ForeignKey("merchants.Store", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="vouchers")
    order_item = models.ForeignKey(
        "orders.OrderItem", null=True, blank=True, on_delete=models.PROTECT, related_name="vouchers"
    )
    deal = models.ForeignKey("merchants.Deal", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=120)
    # What this unit cost the consumer and how its discount splits: refunds and settlement
    # work per voucher, so the order's amounts are divided here to the cent.
    amount = models.DecimalField(**MONEY)
    list_price = models.DecimalField(**MONEY)
    discount_merchant = models.DecimalField(**MONEY, default=0)
    discount_platform = models.DecimalField(**MONEY, default=0)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    refund = models.ForeignKey(
        "payments.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="vouchers"
    )
    expiry_reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["valid_until"], name="voucher_live_expiry", condition=models.Q(status="valid")),
            models.Index(fields=["user", "status"], name="voucher_user_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    amount=models.F("list_price") - models.F("discount_merchant") - models.F("discount_platform")
                ),
                name="voucher_amount_is_price_less_discounts",
            ),
        ]

    def __str__(self):
        return grouped(self.code)

    @property
    def code_display(self):
        return grouped(self.code)

    @property
    def is_live(self):
        return self.status == self.Status.VALID and self.valid_until > timezone.now()


class Redemption(models.Model):
    """A voucher used at a store: who confirmed it, where, when, from which device. Undone
    within the window by setting undone_at (the row stays, for the history)."""

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="redemptions")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="redemptions")
    store = models.ForeignKey("merchants.Store", on_delete=models.PROTECT, related_name="redemptions")
    redeemed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    redeemed_at = models.DateTimeField(default=timezone.now, db_index=True)
    request_key = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    device = models.CharField(max_length=200, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    undo_reason = models.CharField(max_length=200, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-redeemed_at", "-pk"]
        constraints = [
            # A voucher has at most one standing redemption, whatever races above it.
            models.UniqueConstraint(
                fields=["voucher"], condition=models.Q(undone_at__isnull=True), name="one_live_redemption_per_voucher"
            ),
            models.UniqueConstraint(
                fields=["redeemed_by", "request_key"],
                condition=~models.Q(request_key=""),
                name="redemption_request_once",
            ),
        ]

    def __str__(self):
        return f"{self.voucher} at {self.store} {self.redeemed_at:%Y-%m-%d %H:%M}"
