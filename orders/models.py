"""Orders for deals and bookings, their holds on stock and slots, and their history."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")


class Order(models.Model):
    class Kind(models.TextChoices):
        DEAL = "deal", _("Deal")
        BOOKING = "booking", _("Booking")

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        CONFIRMED = "confirmed", _("Confirmed")
        CHECKED_IN = "checked_in", _("Checked in")
        CANCELLED_BY_CONSUMER = "cancelled_by_consumer", _("Cancelled by you")
        CANCELLED_BY_MERCHANT = "cancelled_by_merchant", _("Cancelled by the merchant")
        NO_SHOW = "no_show", _("No-show")

    # DESIGN §4: the only moves each kind of order may make.
    TRANSITIONS = {
        Kind.DEAL: {
            Status.PENDING_PAYMENT: {Status.PAID, Status.CANCELLED},
            Status.PAID: {Status.COMPLETED},
        },
        Kind.BOOKING: {
            Status.PENDING_PAYMENT: {Status.CONFIRMED, Status.CANCELLED},
            Status.CONFIRMED: {
                Status.CHECKED_IN,
                Status.CANCELLED_BY_CONSUMER,
                Status.CANCELLED_BY_MERCHANT,
                Status.NO_SHOW,
            },
            Status.CHECKED_IN: {Status.COMPLETED},
        },
    }
    # States in which an order holds stock or a slot place.
    HOLDING = (Status.PENDING_PAYMENT, Status.PAID, Status.CONFIRMED, Status.CHECKED_IN, Status.COMPLETED)

    number = models.CharField(_("order number"), max_length=20, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="orders")
    store = models.ForeignKey("merchants.Store", on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING_PAYMENT)
    currency = models.CharField(max_length=3, default="CNY")
    # Snapshotted when the order is created (DESIGN §5).
    subtotal = models.DecimalField(**MONEY)
    discount_merchant = models.DecimalField(**MONEY, default=ZERO, help_text="Discount funded by the merchant")
    discount_platform = models.DecimalField(**MONEY, default=ZERO, help_text="Discount funded by the platform")
    total = models.DecimalField(**MONEY, help_text="What the consumer pays online")
    commission_rate = models.DecimalField(max_digits=5, decimal_places=4)
    payment_deadline = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=40, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="order_user_recent"),
            models.Index(fields=["merchant", "-created_at"], name="order_merchant_recent"),
            models.Index(
                fields=["payment_deadline"], name="order_pending_deadline", condition=models.Q(status="pending_payment")
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gte=0, subtotal__gte=0, discount_merchant__gte=0, discount_platform__gte=0),
                name="order_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    total=models.F("subtotal") - models.F("discount_merchant") - models.F("discount_platform")
                ),
                name="order_total_is_subtotal_less_discounts",
            ),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("orders:detail", args=[self.number])

    @property
    def number_display(self):
        n = self.number
        return " ".join(n[i : i + 4] for i in range(0, len(n), 4))

    @property
    def is_pending(self):
        return self.status == self.Status.PENDING_PAYMENT

    @property
    def is_expired_hold(self):
        return self.is_pending and self.payment_deadline is not None and self.payment_deadline <= timezone.now()

    def can_move_to(self, target):
        return target in self.TRANSITIONS[self.Kind(self.kind)].get(self.Status(self.status), set())


class OrderItem(models.Model):
    """One line: N units of a deal, or one booking of a service."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    deal = models.ForeignKey("merchants.Deal", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("merchants.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=120)
    unit_price = models.DecimalField(**MONEY)
    quantity = models.PositiveIntegerField()
    subtotal = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deal__isnull=False) | models.Q(service__isnull=False), name="item_has_product"
            ),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="item_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.title} × {self.quantity}"


class Booking(models.Model):
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="booking")
    service = models.ForeignKey("merchants.Service", on_delete=models.PROTECT, related_name="bookings")
    store = models.ForeignKey("merchants.Store", on_delete=models.PROTECT, related_name="bookings")
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField()
    party_size = models.PositiveSmallIntegerField()
    places = models.PositiveSmallIntegerField(help_text="Places of the slot's capacity this booking holds")
    prepaid = models.DecimalField(**MONEY, default=ZERO)
    price = models.DecimalField(**MONEY, default=ZERO, help_text="Full price of the service for this party")
    cancellation_policy = models.CharField(max_length=10)
    note = models.CharField(max_length=200, blank=True)
    # Part of the prepaid amount kept by the merchant on a late cancellation or no-show.
    fee_kept = models.DecimalField(**MONEY, default=ZERO)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    holds_slot = models.BooleanField(default=True)
    # An appointment booked with a deal voucher (the deal "needs an appointment"): nothing to
    # pay, and the voucher is what is redeemed at the visit.
    voucher = models.ForeignKey(
        "coupons.Voucher", null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["store", "start"], name="booking_store_start")]

    def __str__(self):
        return f"{self.service} at {self.start:%Y-%m-%d %H:%M}"

    @property
    def local_start(self):
        return self.start.astimezone(self.store.tzinfo)


class SlotLoad(models.Model):
    """Places taken at one start time of one service. Changed only by a conditional UPDATE
    (`taken + n <= capacity`), so a slot can never be overbooked."""

    service = models.ForeignKey("merchants.Service", on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    taken = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "start"], name="one_load_per_slot")]

    def __str__(self):
        return f"{self.service_id}@{self.start}: {self.taken}"


class DealQuota(models.Model):
    """Units of one deal that one user holds in live orders; bounded by the deal's limit."""

    deal = models.ForeignKey("merchants.Deal", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    units = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deal", "user"], name="one_quota_per_user_deal")]

    def __str__(self):
        return f"{self.user_id} holds {self.units} of deal {self.deal_id}"


class OrderEvent(models.Model):
    """The order's history: every status change, who made it and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.order_id}: {self.from_status or '∅'} → {self.to_status}"


PAYMENT_WINDOW = dt.timedelta(minutes=15)
