"""The store search filters: one FilterSet for the API (`GET /api/v1/stores/`) and the search page.

The rules for what a valid search is (ranges, pairs, slugs that exist) live here once; the
search itself is `merchants.selectors.store_search`.
"""

from decimal import Decimal

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from ..models import Category, City, Store
from ..selectors import store_search

MAX_RADIUS_KM = 50
MAX_PRICE = Decimal("100000000")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})

ORDERING_CHOICES = [
    ("distance", _("Nearest")),
    ("-rating", _("Best rated")),
    ("-sales", _("Most popular")),
    ("avg_price", _("Cheapest")),
    ("-avg_price", _("Most expensive")),
]


class StrictBooleanField(forms.Field):
    """true/false (also 1/0, yes/no, on/off); anything else is an error, not a silent "no filter"."""

    default_error_messages = {"invalid": _("Use true or false.")}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValidationError(self.error_messages["invalid"], code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class StoreSearchForm(forms.Form):
    """Checks that involve more than one field, or the database; FilterSet adds the fields."""

    def clean_city(self):
        slug = self.cleaned_data.get("city")
        if slug and not City.objects.filter(slug=slug).exists():
            raise ValidationError(_("There is no city “%(slug)s”."), code="unknown_city", params={"slug": slug})
        return slug

    def clean_category(self):
        slug = self.cleaned_data.get("category")
        if slug and not Category.objects.filter(slug=slug).exists():
            raise ValidationError(_("There is no category “%(slug)s”."), code="unknown_category", params={"slug": slug})
        return slug

    def clean_radius_km(self):
        radius = self.cleaned_data.get("radius_km")
        if radius is not None and radius <= 0:
            raise ValidationError(_("The radius must be more than 0 km."), code="min_value")
        return radius

    def clean(self):
        data = super().clean()
        lat, lng = data.get("lat"), data.get("lng")
        coordinates_valid = "lat" not in self.errors and "lng" not in self.errors
        if coordinates_valid and (lat is None) != (lng is None):
            missing = "lng" if lng is None else "lat"
            self.add_error(missing, ValidationError(_("Give both lat and lng."), code="incomplete_location"))
        has_point = lat is not None and lng is not None
        if coordinates_valid and not has_point:
            if data.get("radius_km") is not None:
                self.add_error("radius_km", ValidationError(_("A radius needs lat and lng."), code="needs_location"))
            if data.get("ordering") == "distance":
                self.add_error(
                    "ordering", ValidationError(_("Ordering by distance needs lat and lng."), code="needs_location")
                )
        min_price, max_price = data.get("min_price"), data.get("max_price")
        if min_price is not None and max_price is not None and min_price > max_price:
            self.add_error(
                "max_price", ValidationError(_("The highest price is below the lowest price."), code="price_range")
            )
        return data


class StoreFilter(django_filters.rest_framework.FilterSet):
    """Query parameters of store search; `qs` runs `store_search` with the cleaned values."""

    city = django_filters.CharFilter(label=_("City"), help_text=_("City slug, e.g. shanghai."), max_length=50)
    category = django_filters.CharFilter(
        label=_("Category"), help_text=_("Category slug; includes its sub-categories."), max_length=50
    )
    q = django_filters.CharFilter(
        label=_("Keyword"),
        help_text=_("Words to find in the store, merchant or category name, tags or address; all must match."),
        max_length=100,
    )
    lat = extend_schema_field(OpenApiTypes.DOUBLE)(
        django_filters.NumberFilter(
            label=_("Latitude"), help_text=_("Your latitude, -90 to 90; needs lng."), min_value=-90, max_value=90
        )
    )
    lng = extend_schema_field(OpenApiTypes.DOUBLE)(
        django_filters.NumberFilter(
            label=_("Longitude"), help_text=_("Your longitude, -180 to 180; needs lat."), min_value=-180, max_value=180
        )
    )
    radius_km = extend_schema_field(OpenApiTypes.DOUBLE)(
        django_filters.NumberFilter(
            label=_("Within (km)"),
            help_text=_("Only stores within this distance of lat/lng: more than 0, at most 50."),
            max_value=MAX_RADIUS_KM,
        )
    )
    open_now = StrictBooleanFilter(label=_("Open now"), help_text=_("Only stores open now, in their local time."))
    has_deals = StrictBooleanFilter(label=_("Has deals"), help_text=_("Only stores with (or without) deals."))
    min_rating = django_filters.NumberFilter(
        label=_("Rating at least"), help_text=_("Bayesian rating, 0 to 5."), min_value=0, max_value=5
    )
    min_price = django_filters.NumberFilter(
        label=_("Price from"), help_text=_("Lowest average spend per person."), min_value=0, max_value=MAX_PRICE
    )
    max_price = django_filters.NumberFilter(
        label=_("Price up to"), help_text=_("Highest average spend per person."), min_value=0, max_value=MAX_PRICE
    )
    ordering = django_filters.ChoiceFilter(
        label=_("Sort by"),
        choices=ORDERING_CHOICES,
        help_text=_("Default: distance when lat/lng are given, else -rating."),
    )

    class Meta:
        model = Store
        fields = []  # every filter is declared above
        form = StoreSearchForm

    def get_form_class(self):
        """django-filter builds a new form class for every request; the fields never change, so
        build it once per FilterSet class (each form still gets its own copy of the fields)."""
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            cls._form_class = super().get_form_class()
        return cls._form_class

    def search_arguments(self):
        """The cleaned values as keyword arguments of `store_search`."""
        data = self.form.cleaned_data
        lat, lng, radius = data.get("lat"), data.get("lng"), data.get("radius_km")
        return {
            "city": data.get("city") or None,
            "category": data.get("category") or None,
            "q": data.get("q") or None,
            "lat": float(lat) if lat is not None else None,
            "lng": float(lng) if lng is not None else None,
            "radius_km": float(radius) if radius is not None else None,
            "open_now": bool(data.get("open_now")),
            "has_deals": data.get("has_deals"),
            "min_rating": data.get("min_rating"),
            "min_price": data.get("min_price"),
            "max_price": data.get("max_price"),
            "ordering": data.get("ordering") or None,
        }

    def filter_queryset(self, queryset):
        """Run the search selector. `queryset` (the view's discoverable stores) is not narrowed
        further: `store_search` starts from the same discoverable stores itself."""
        return store_search(**self.search_arguments())

    @property
    def has_point(self):
        return self.is_valid() and self.form.cleaned_data.get("lat") is not None
