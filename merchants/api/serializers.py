"""JSON shapes of cities, categories and stores (DESIGN §10). Output only: nothing is written here.

Search results are built as plain dictionaries (`StoreListSerializer.to_representation`): the
declared fields describe them for the OpenAPI schema, but running DRF's field machinery for
every row of every search page cost more than the search itself.
"""

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Category, City, Deal, Merchant, Service, Store, StoreClosedDate, StoreHours, StorePhoto
from ..selectors import bookable_services, deals_on_sale, listing_cover, upcoming_closed_dates


class CitySerializer(serializers.ModelSerializer):
    class Meta:
        model = City
        fields = ["slug", "name", "name_en", "latitude", "longitude"]


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True, help_text="The parent's slug, or null.")

    class Meta:
        model = Category
        fields = ["slug", "name", "name_en", "parent", "icon"]


class CityBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = City
        fields = ["slug", "name", "name_en"]


class CategoryBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name", "name_en"]


class MerchantBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Merchant
        fields = ["id", "name"]


def _absolute(request, file_field):
    """The file's URL, absolute when there is a request (storages may already give one)."""
    if not file_field:
        return None
    url = file_field.url
    if request is None or url.startswith(("http://", "https://", "//")):
        return url
    # The scheme and host are the same for every photo of an answer: work them out once.
    base = getattr(request, "_absolute_url_base", None)
    if base is None:
        base = request._absolute_url_base = request.build_absolute_uri("/")[:-1]
    return base + url


CENT = Decimal("0.01")


def _money(value):
    """Decimals as DRF writes them by default: a string with two places."""
    return f"{value.quantize(CENT):f}"


def photo_data(photo, request):
    """A photo as `PhotoSerializer` describes it."""
    return {
        "id": photo.pk,
        "url": _absolute(request, photo.image),
        "thumbnail_url": _absolute(request, photo.thumbnail or photo.image),
        "caption": photo.caption,
        "is_cover": photo.is_cover,
    }


class PhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = StorePhoto
        fields = ["id", "url", "thumbnail_url", "caption", "is_cover"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, photo):
        return _absolute(self.context.get("request"), photo.image)

    @extend_schema_field(OpenApiTypes.URI)
    def get_thumbnail_url(self, photo):
        return _absolute(self.context.get("request"), photo.thumbnail or photo.image)


class StoreListSerializer(serializers.ModelSerializer):
    """A search result. `distance_km` is present only when the search gave lat/lng."""

    merchant = MerchantBriefSerializer(read_only=True)
    category = CategoryBriefSerializer(read_only=True)
    city = CityBriefSerializer(read_only=True)
    lat = serializers.FloatField(source="latitude", read_only=True)
    lng = serializers.FloatField(source="longitude", read_only=True)
    is_open_now = serializers.BooleanField(read_only=True, help_text="In the store's local time.")
    cover = serializers.SerializerMethodField()
    # Not read-only so that the schema can say "optional": a missing annotation skips the key.
    distance_km = serializers.FloatField(
        required=False, help_text="Great-circle distance from lat/lng, when they are given."
    )

    class Meta:
        model = Store
        fields = [
            "id",
            "name",
            "merchant",
            "category",
            "city",
            "address",
            "lat",
            "lng",
            "rating",
            "review_count",
            "avg_price",
            "is_open_now",
            "cover",
            "distance_km",
        ]
        read_only_fields = fields[:-1]

    @extend_schema_field(PhotoSerializer(allow_null=True))
    def get_cover(self, store):
        photo = listing_cover(store)
        return photo_data(photo, self.context.get("request")) if photo else None

    def to_representation(self, store):
        """The declared fields, written out by hand for speed (tests pin the shape)."""
        merchant, category, city = store.merchant, store.category, store.city
        row = {
            "id": store.pk,
            "name": store.name,
            "merchant": {"id": merchant.pk, "name": merchant.name},
            "category": {"slug": category.slug, "name": category.name, "name_en": category.name_en},
            "city": {"slug": city.slug, "name": city.name, "name_en": city.name_en},
            "address": store.address,
            "lat": store.latitude,
            "lng": store.longitude,
            "rating": _money(store.rating),
            "review_count": store.review_count,
            "avg_price": _money(store.avg_price),
            "is_open_now": store.is_open_now,
            "cover": self.get_cover(store),
        }
        distance_km = getattr(store, "distance_km", None)
        if distance_km is not None:
            row["distance_km"] = distance_km
        return row


class HoursSerializer(serializers.ModelSerializer):
    opens = serializers.TimeField(format="%H:%M")
    closes = serializers.TimeField(format="%H:%M", help_text="Earlier than (or equal to) opens: the next day.")

    class Meta:
        model = StoreHours
        fields = ["weekday", "opens", "closes"]


class ClosedDateSerializer(serializers.ModelSerializer):
    class Meta:
        model = StoreClosedDate
        fields = ["date", "note"]


class StoreServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "description",
            "price",
            "prepayment",
            "deposit",
            "duration_minutes",
            "capacity",
            "capacity_per_person",
            "min_party",
            "max_party",
            "booking_window_days",
            "min_notice_minutes",
            "cancellation_policy",
        ]


class StoreDealSerializer(serializers.ModelSerializer):
    remaining = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Deal
        fields = [
            "id",
            "title",
            "contents",
            "price",
            "original_price",
            "stock",
            "remaining",
            "per_user_limit",
            "max_per_order",
            "valid_days",
            "valid_until",
            "weekdays_only",
            "needs_appointment",
            "usage_notes",
            "sale_ends",
        ]


class StoreDetailSerializer(StoreListSerializer):
    """A store page in JSON: the list fields plus contact, hours, photos and what is on offer."""

    tags = serializers.SerializerMethodField()
    hours = HoursSerializer(many=True, read_only=True)
    closed_dates = serializers.SerializerMethodField()
    photos = PhotoSerializer(many=True, read_only=True)
    merchant_status = serializers.CharField(source="merchant.status", read_only=True)
    services = serializers.SerializerMethodField()
    deals = serializers.SerializerMethodField()
    campaigns = serializers.SerializerMethodField()

    class Meta(StoreListSerializer.Meta):
        fields = [
            *StoreListSerializer.Meta.fields,
            "phone",
            "description",
            "tags",
            "hours",
            "closed_dates",
            "photos",
            "merchant_status",
            "services",
            "deals",
            "campaigns",
        ]
        read_only_fields = [name for name in fields if name != "distance_km"]

    def to_representation(self, store):
        # One store: DRF's own field-by-field path is fast enough and covers the extra fields.
        return serializers.ModelSerializer.to_representation(self, store)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, store):
        return [tag.strip() for tag in store.tags.replace("，", ",").split(",") if tag.strip()]

    @extend_schema_field(ClosedDateSerializer(many=True))
    def get_closed_dates(self, store):
        """Closures from today on (the store's local date)."""
        return ClosedDateSerializer(upcoming_closed_dates(store), many=True).data

    # --- What the store offers. Each method is the one place a later issue fills in. ---

    @extend_schema_field(StoreServiceSerializer(many=True))
    def get_services(self, store):
        """Bookable services: `id, name, price, deposit, duration_minutes, capacity`, and terms."""
        return StoreServiceSerializer(bookable_services(store), many=True).data

    @extend_schema_field(StoreDealSerializer(many=True))
    def get_deals(self, store):
        """Group-buy deals on sale: `id, title, price, original_price, stock, remaining,
        per_user_limit, valid_days`."""
        return StoreDealSerializer(deals_on_sale(store), many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_campaigns(self, store):
        """Coupon campaigns a consumer may claim here: `id, title, kind, remaining` (coupons issue)."""
        return []


class MemberStoreSerializer(StoreListSerializer):
    """A merchant's own store, published or not."""

    class Meta(StoreListSerializer.Meta):
        fields = [*StoreListSerializer.Meta.fields, "is_published", "phone", "sales_count", "has_deals"]
        read_only_fields = [name for name in fields if name != "distance_km"]

    def to_representation(self, store):
        row = super().to_representation(store)
        row.update(
            is_published=store.is_published, phone=store.phone, sales_count=store.sales_count, has_deals=store.has_deals
        )
        return row
