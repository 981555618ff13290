"""What a merchant sells: bookable services with their schedules, and group-buy deals.

Imported by merchants/models.py so the models belong to the merchants app.
"""

import datetime as dt
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}


class CancellationPolicy(models.TextChoices):
    """DESIGN §9 presets: free-cancel cut-off, then late-cancel / no-show fee as a share of
    the prepaid amount."""

    NONE = "none", _("No fees")
    FLEXIBLE = "flexible", _("Flexible")
    FAIR = "fair", _("Fair")
    MODERATE = "moderate", _("Moderate")
    STRICT = "strict", _("Strict")


# (free cancellation until N hours before the start, late-cancel fee, no-show fee)
CANCELLATION_TERMS = {
    CancellationPolicy.NONE: (0, Decimal("0.00"), Decimal("0.00")),
    CancellationPolicy.FLEXIBLE: (2, Decimal("0.00"), Decimal("0.10")),
    CancellationPolicy.FAIR: (24, Decimal("0.10"), Decimal("0.30")),
    CancellationPolicy.MODERATE: (24, Decimal("0.30"), Decimal("0.50")),
    CancellationPolicy.STRICT: (48, Decimal("0.50"), Decimal("1.00")),
}


class Service(models.Model):
    """A bookable service at one store: a table, a haircut, a massage room, a class seat."""

    class Prepayment(models.TextChoices):
        FULL = "full", _("Pay in full")
        DEPOSIT = "deposit", _("Deposit")
        NONE = "none", _("Pay in store")

    store = models.ForeignKey("merchants.Store", on_delete=models.CASCADE, related_name="services")
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(_("price"), **MONEY, validators=[MinValueValidator(Decimal("0"))])
    prepayment = models.CharField(_("prepayment"), max_length=10, choices=Prepayment.choices, default=Prepayment.FULL)
    deposit = models.DecimalField(
        _("deposit"), **MONEY, default=Decimal("0.00"), validators=[MinValueValidator(Decimal("0"))]
    )
    duration_minutes = models.PositiveIntegerField(
        _("duration (minutes)"), validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )
    capacity = models.PositiveIntegerField(
        _("capacity per slot"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10000)],
        help_text=_("Tables, chairs or rooms that can be booked at the same start time."),
    )
    capacity_per_person = models.BooleanField(
        _("each person takes a place"),
        default=False,
        help_text=_("On for classes and seats (the price is per person); off for tables and rooms."),
    )
    min_party = models.PositiveSmallIntegerField(_("smallest party"), default=1, validators=[MinValueValidator(1)])
    max_party = models.PositiveSmallIntegerField(_("largest party"), default=4, validators=[MinValueValidator(1)])
    booking_window_days = models.PositiveSmallIntegerField(
        _("bookable days ahead"), default=14, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    min_notice_minutes = models.PositiveIntegerField(_("minimum notice (minutes)"), default=60)
    cancellation_policy = models.CharField(
        _("cancellation policy"), max_length=10, choices=CancellationPolicy.choices, default=CancellationPolicy.FAIR
    )
    is_active = models.BooleanField(_("bookable"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["store", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_party__gte=models.F("min_party")), name="service_party_range"
            ),
            models.CheckConstraint(condition=models.Q(price__gte=0, deposit__gte=0), name="service_money_positive"),
        ]

    def __str__(self):
        return self.name

    @property
    def terms(self):
        return CANCELLATION_TERMS[CancellationPolicy(self.cancellation_policy)]

    def places_for(self, party_size):
        """How many places of a slot's capacity a party takes."""
        return party_size if self.capacity_per_person else 1

    def price_for(self, party_size):
        return self.price * self.places_for(party_size)

    def prepaid_amount_for(self, party_size):
        """What the consumer pays online when booking."""
        if self.prepayment == self.Prepayment.FULL:
            return self.price_for(party_size)
        if self.prepayment == self.Prepayment.DEPOSIT:
            return min(self.deposit * self.places_for(party_size), self.price_for(party_size))
        return Decimal("0.00")


class ServiceSchedule(models.Model):
    """A weekly rule: on `weekday`, slots start every `slot_minutes` from `starts` until `ends`."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="schedules")
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)], help_text="0 = Monday")
    starts = models.TimeField(_("first slot"))
    ends = models.TimeField(_("last slot starts by"))
    slot_minutes = models.PositiveIntegerField(
        _("minutes between slots"), default=30, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )

    class Meta:
        ordering = ["weekday", "starts"]
        constraints = [models.CheckConstraint(condition=models.Q(ends__gte=models.F("starts")), name="schedule_order")]

    def __str__(self):
        return f"{self.service} {self.weekday} {self.starts:%H:%M}-{self.ends:%H:%M}/{self.slot_minutes}"

    def slot_times(self):
        day = dt.date(2000, 1, 3)
        at, last = dt.datetime.combine(day, self.starts), dt.datetime.combine(day, self.ends)
        while at <= last:
            yield at.time()
            at += dt.timedelta(minutes=self.slot_minutes)


class ServiceDateRule(models.Model):
    """A one-off change on a date: closed all day, or extra slots (starts..ends every slot_minutes)."""

    class Kind(models.TextChoices):
        CLOSED = "closed", _("Closed")
        EXTRA = "extra", _("Extra opening")

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="date_rules")
    date = models.DateField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    starts = models.TimeField(null=True, blank=True)
    ends = models.TimeField(null=True, blank=True)
    slot_minutes = models.PositiveIntegerField(default=30, validators=[MinValueValidator(5)])

    class Meta:
        ordering = ["date", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="closed") | models.Q(starts__isnull=False, ends__isnull=False),
                name="extra_opening_has_times",
            ),
        ]

    def __str__(self):
        return f"{self.service} {self.date} {self.kind}"


class DealQuerySet(models.QuerySet):
    def on_sale(self, at=None):
        at = at or timezone.now()
        return self.filter(
            is_active=True,
            store__is_published=True,
            store__merchant__status="approved",
        ).filter(
            models.Q(sale_starts__isnull=True) | models.Q(sale_starts__lte=at),
            models.Q(sale_ends__isnull=True) | models.Q(sale_ends__gt=at),
        )


class Deal(models.Model):
    """A group-buy package sold online and redeemed in store with one voucher per unit."""

    store = models.ForeignKey("merchants.Store", on_delete=models.CASCADE, related_name="deals")
    title = models.CharField(_("title"), max_length=120)
    contents = models.JSONField(
        _("contents"),
        default=list,
        blank=True,
        help_text=_("What the package includes: a list of {name, quantity, price}."),
    )
    price = models.DecimalField(_("price"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    original_price = models.DecimalField(_("original price"), **MONEY, validators=[MinValueValidator(Decimal("0"))])
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    # Units in pending or paid, unrefunded orders. Changed only by conditional UPDATEs in
    # orders.services so that it can never pass `stock`.
    units_taken = models.PositiveIntegerField(default=0, editable=False)
    units_sold = models.PositiveIntegerField(default=0, editable=False, help_text="Paid units, for sales figures")
    per_user_limit = models.PositiveSmallIntegerField(
        _("limit per person"), default=5, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    max_per_order = models.PositiveSmallIntegerField(
        _("limit per order"), default=10, validators=[MinValueValidator(1)]
    )
    sale_starts = models.DateTimeField(_("sale starts"), null=True, blank=True)
    sale_ends = models.DateTimeField(_("sale ends"), null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField(
        _("valid for days after purchase"), null=True, blank=True, default=90, validators=[MinValueValidator(1)]
    )
    valid_until = models.DateField(_("valid until (fixed date)"), null=True, blank=True)
    weekdays_only = models.BooleanField(_("weekdays only"), default=False)
    max_per_visit = models.PositiveSmallIntegerField(_("units per visit"), null=True, blank=True)
    needs_appointment = models.BooleanField(_("needs an appointment"), default=False)
    appointment_service = models.ForeignKey(
        Service,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The service whose slots a voucher holder books."),
    )
    usage_notes = models.TextField(_("usage rules"), blank=True)
    usable_stores = models.ManyToManyField(
        "merchants.Store",
        blank=True,
        related_name="usable_deals",
        help_text=_("Stores where vouchers can be redeemed; empty: only the selling store."),
    )
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["store", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stock__isnull=True) | models.Q(units_taken__lte=models.F("stock")),
                name="deal_never_oversold",
            ),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="deal_price_positive"),
            models.CheckConstraint(
                condition=models.Q(valid_days__isnull=False) | models.Q(valid_until__isnull=False),
                name="deal_has_validity",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def remaining(self):
        return None if self.stock is None else max(self.stock - self.units_taken, 0)

    def voucher_valid_until(self, purchased_at):
        """The last moment a voucher bought at `purchased_at` can be used (end of day, store time)."""
        tz = self.store.tzinfo
        candidates = []
        if self.valid_days:
            candidates.append(purchased_at.astimezone(tz).date() + dt.timedelta(days=self.valid_days))
        if self.valid_until:
            candidates.append(self.valid_until)
        last_day = min(candidates)
        return dt.datetime.combine(last_day, dt.time(23, 59, 59), tzinfo=tz)

    def redeemable_store_ids(self):
        ids = {s.pk for s in self.usable_stores.all()}
        return ids or {self.store_id}
