"""Cities, categories, merchants and their people, stores with hours and photos."""

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class LocalisedNameMixin:
    """`name` is Simplified Chinese, `name_en` English; `label` picks the active language."""

    @property
    def label(self):
        if (get_language() or "").startswith("en") and self.name_en:
            return self.name_en
        return self.name


class City(LocalisedNameMixin, models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=50, blank=True)
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    timezone = models.CharField(max_length=50, default="Asia/Shanghai")
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = _("cities")

    def __str__(self):
        return self.name

    @property
    def tzinfo(self):
        return zoneinfo.ZoneInfo(self.timezone)


class Category(LocalisedNameMixin, models.Model):
    """Two levels: top categories (food, beauty...) and their sub-categories."""

    slug = models.SlugField(unique=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=50, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    icon = models.CharField(max_length=8, blank=True, help_text=_("An emoji shown in the category grid."))
    position = models.PositiveSmallIntegerField(default=0)
    # Review sub-scores that fit the category, e.g. ["taste", "environment", "service"].
    review_aspects = models.JSONField(default=list, blank=True)
    commission_rate = models.DecimalField(
        _("default commission rate"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.5"))],
        help_text=_("For merchants of this category without a rate of their own."),
    )

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = _("categories")
        constraints = [
            models.CheckConstraint(condition=~models.Q(parent=models.F("pk")), name="category_not_own_parent"),
        ]

    def __str__(self):
        return self.name

    @property
    def aspects(self):
        if self.review_aspects:
            return self.review_aspects
        return self.parent.aspects if self.parent_id else ["environment", "service", "value"]


class Merchant(models.Model):
    """A business on the platform; it owns stores, a catalogue and a settlement account."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        SUSPENDED = "suspended", _("Suspended")

    TRANSITIONS = {
        Status.APPLIED: {Status.APPROVED, Status.REJECTED},
        Status.APPROVED: {Status.SUSPENDED},
        Status.SUSPENDED: {Status.APPROVED},
        Status.REJECTED: set(),
    }

    name = models.CharField(_("business name"), max_length=100)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="merchants")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.APPLIED, db_index=True)
    status_reason = models.CharField(_("reason"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    contact_name = models.CharField(_("contact name"), max_length=60)
    contact_phone = models.CharField(_("contact phone"), max_length=20)
    commission_rate = models.DecimalField(
        _("commission rate"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.5"))],
        help_text=_("Share kept by the platform, e.g. 0.0600 for 6 %. Empty: the platform default."),
    )
    settlement_account_name = models.CharField(max_length=100, blank=True)
    settlement_account_number = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_live(self):
        return self.status == self.Status.APPROVED

    @property
    def effective_commission_rate(self):
        """The merchant's own rate, else its category's (or the parent's), else the platform's."""
        if self.commission_rate is not None:
            return self.commission_rate
        category = self.category
        while category is not None:
            if category.commission_rate is not None:
                return category.commission_rate
            category = category.parent
        return settings.DEFAULT_COMMISSION_RATE


class MerchantApplication(models.Model):
    """What an applicant submitted, and the platform's decision on it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="merchant_applications"
    )
    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="application")
    business_name = models.CharField(_("business name"), max_length=100)
    category = models.ForeignKey(Category, on_delete=models.PROTECT)
    contact_name = models.CharField(_("contact name"), max_length=60)
    contact_phone = models.CharField(_("contact phone"), max_length=20)
    licence_image = models.ImageField(_("business licence"), upload_to="licences/")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    decision_reason = models.CharField(_("reason"), max_length=300, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open application per person at a time.
            models.UniqueConstraint(
                fields=["applicant"], condition=models.Q(status="pending"), name="one_pending_application_per_user"
            ),
        ]

    def __str__(self):
        return f"{self.business_name} ({self.get_status_display()})"


class MerchantMember(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MANAGER = "manager", _("Manager")
        CLERK = "clerk", _("Clerk")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=10, choices=Role.choices)
    # Stores this person works at; empty means every store of the merchant.
    stores = models.ManyToManyField("Store", blank=True, related_name="members")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "merchant"], name="one_membership_per_merchant")]

    def __str__(self):
        return f"{self.user} · {self.merchant} ({self.role})"

    @property
    def can_manage(self):
        """Catalogue, stores, coupons, bookings, reviews: owners and managers."""
        return self.role in (self.Role.OWNER, self.Role.MANAGER)

    @property
    def can_see_finances(self):
        """Statements, payouts and staff: owners only."""
        return self.role == self.Role.OWNER


class StoreQuerySet(models.QuerySet):
    def discoverable(self):
        """Published stores of approved merchants: what consumers may find."""
        return self.filter(is_published=True, merchant__status=Merchant.Status.APPROVED)


class Store(models.Model):
    """A branch where consumers are served: located, with hours, photos and aggregates."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="stores")
    name = models.CharField(_("store name"), max_length=100)
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="stores")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="stores")
    address = models.CharField(_("address"), max_length=200)
    latitude = models.FloatField(_("latitude"), validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(_("longitude"), validators=[MinValueValidator(-180), MaxValueValidator(180)])
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    description = models.TextField(_("description"), blank=True)
    tags = models.CharField(
        _("tags"), max_length=200, blank=True, help_text=_("Comma separated, e.g. hotpot, late night")
    )
    avg_price = models.DecimalField(
        _("average spend per person"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    is_published = models.BooleanField(_("published"), default=False)
    # Denormalised figures, kept by the services that change them (reviews, orders) and
    # repaired by reconciliation tasks.
    rating = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.00"), help_text="Bayesian score")
    rating_mean = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.00"))
    review_count = models.PositiveIntegerField(default=0)
    sales_count = models.PositiveIntegerField(default=0)
    has_deals = models.BooleanField(default=False)
    # Lower-cased names, category and tags, for keyword search.
    search_text = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StoreQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["latitude", "longitude"], name="store_lat_lng"),
            models.Index(fields=["city", "category"], name="store_city_category"),
            models.Index(fields=["-rating"], name="store_rating"),
            models.Index(fields=["-sales_count"], name="store_sales"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("merchants:store", args=[self.pk])

    def build_search_text(self):
        parts = [self.name, self.merchant.name, self.category.name, self.category.name_en, self.tags, self.address]
        if self.category.parent_id:
            parts += [self.category.parent.name, self.category.parent.name_en]
        return " ".join(p for p in parts if p).lower()

    @property
    def tzinfo(self):
        return self.city.tzinfo

    def local_now(self):
        return timezone.now().astimezone(self.tzinfo)

    def is_open_at(self, moment):
        """Open at `moment` (aware): within today's hours, or inside last night's overnight hours."""
        local = moment.astimezone(self.tzinfo)
        today, now_t = local.date(), local.time()
        if any(c.date == today for c in self.closed_dates.all()):
            return False
        weekday = local.weekday()
        yesterday = (weekday - 1) % 7
        for h in self.hours.all():
            if h.weekday == weekday and h.opens <= now_t and (h.closes > now_t or h.is_overnight):
                return True
            closed_yesterday = any(c.date == today - dt.timedelta(days=1) for c in self.closed_dates.all())
            if h.weekday == yesterday and h.is_overnight and now_t < h.closes and not closed_yesterday:
                return True
        return False

    @property
    def is_open_now(self):
        return self.is_open_at(timezone.now())

    @property
    def cover(self):
        photos = list(self.photos.all())
        for photo in photos:
            if photo.is_cover:
                return photo
        return photos[0] if photos else None


class StoreHours(models.Model):
    """One opening interval; several per weekday give breaks, closes ≤ opens runs past midnight."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)], help_text="0 = Monday")
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = _("store hours")

    def __str__(self):
        return f"{self.weekday} {self.opens:%H:%M}-{self.closes:%H:%M}"

    @property
    def is_overnight(self):
        return self.closes <= self.opens


class StoreClosedDate(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="closed_dates")
    date = models.DateField()
    note = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["store", "date"], name="one_closure_per_day")]

    def __str__(self):
        return f"{self.store} closed {self.date}"


class StorePhoto(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="stores/%Y/%m/", width_field="width", height_field="height")
    thumbnail = models.ImageField(upload_to="stores/%Y/%m/thumbs/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    caption = models.CharField(_("caption"), max_length=100, blank=True)
    is_cover = models.BooleanField(_("cover photo"), default=False)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_cover", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["store"], condition=models.Q(is_cover=True), name="one_cover_per_store"),
        ]

    def __str__(self):
        return f"{self.store} photo {self.pk}"


from .catalogue_models import CancellationPolicy, Deal, Service, ServiceDateRule, ServiceSchedule  # noqa: E402, F401
