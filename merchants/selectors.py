"""Reads for discovery: store search (keyword, category, nearby, open now...) and store pages.

Every list here costs a fixed number of queries whatever its length: the related rows a card
shows (city, category, merchant, cover photo, hours, closures) come with one prefetch each.
docs/geo-search.md explains the shape of the queries.
"""

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict

from django.db.models import Exists, F, OuterRef, Prefetch, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from o2o.errors import Invalid

from . import geo
from .access import member_stores
from .models import Category, City, Deal, Merchant, Service, Store, StoreClosedDate, StoreHours, StorePhoto

logger = logging.getLogger(__name__)

# Each ordering ends with the primary key so that pages never overlap or skip a store.
ORDERINGS = {
    "distance": ("distance_km", "pk"),
    "-rating": ("-rating", "-review_count", "pk"),
    "-sales": ("-sales_count", "-rating", "pk"),
    "avg_price": ("avg_price", "pk"),
    "-avg_price": ("-avg_price", "pk"),
}
HIDDEN_MERCHANT_STATUSES = [status for status in Merchant.Status.values if status != Merchant.Status.APPROVED]


def discoverable_stores():
    """The stores consumers may find: `Store.objects.discoverable()`, phrased for big scans.

    Same rows as `discoverable()` (published, merchant approved), because every store has a
    merchant. Excluding the few merchants that are *not* approved lets PostgreSQL probe a small
    hashed list per candidate store, where a join would look up every candidate's merchant,
    which is what made a dense nearby count slow.
    """
    hidden_merchants = Merchant.objects.filter(status__in=HIDDEN_MERCHANT_STATUSES).values("pk")
    return Store.objects.filter(is_published=True).exclude(merchant_id__in=hidden_merchants)


def keyword_terms(q):
    """Lower-cased, whitespace-separated terms of a search box entry (full-width spaces too)."""
    return (q or "").lower().split()


def category_with_children(slug):
    """Ids of the category `slug` and its sub-categories, as a subquery."""
    return Category.objects.filter(Q(slug=slug) | Q(parent__slug=slug)).values("pk")


def store_search(
    *,
    city=None,
    category=None,
    q=None,
    lat=None,
    lng=None,
    radius_km=None,
    open_now=False,
    has_deals=None,
    min_rating=None,
    min_price=None,
    max_price=None,
    ordering=None,
    now=None,
):
    """Discoverable stores matching every given filter, ready to list.

    `city` and `category` are slugs (a category includes its sub-categories); `q` must match
    every term in the store's search text; `lat`/`lng` annotate `distance_km` and, with
    `radius_km`, keep the stores within it; `open_now` keeps the stores open at `now`
    (default: the current time) in their city's time zone. `ordering` is a key of
    `ORDERINGS`; the default is `distance` when a point is given, else `-rating`.

    Bad combinations raise `Invalid`; the API and the search page check them first, field by
    field (`merchants.api.filters.StoreFilter`).
    """
    has_point = lat is not None and lng is not None
    if (lat is None) != (lng is None):
        raise Invalid(_("Give both latitude and longitude."), field="lng" if lng is None else "lat")
    ordering = ordering or ("distance" if has_point else "-rating")
    if ordering not in ORDERINGS:
        raise Invalid(_("Unknown ordering."), field="ordering")
    if ordering == "distance" and not has_point:
        raise Invalid(_("Ordering by distance needs a location (lat and lng)."), field="ordering")
    if radius_km is not None and not has_point:
        raise Invalid(_("A radius needs a location (lat and lng)."), field="radius_km")

    stores = discoverable_stores()
    if city:
        stores = stores.filter(city_id__in=City.objects.filter(slug=city).values("pk"))
    if category:
        stores = stores.filter(category_id__in=category_with_children(category))
    for term in keyword_terms(q):
        # `search_text` is lower-cased; a case-sensitive LIKE is what the trigram index serves.
        stores = stores.filter(search_text__contains=term)
    if has_deals is not None:
        stores = stores.filter(has_deals=has_deals)
    if min_rating is not None:
        stores = stores.filter(rating__gte=min_rating)
    if min_price is not None:
        stores = stores.filter(avg_price__gte=min_price)
    if max_price is not None:
        stores = stores.filter(avg_price__lte=max_price)
    if open_now:
        stores = stores.filter(open_at_q(now or timezone.now()))
    if has_point:
        lat, lng = float(lat), float(lng)
        stores = stores.annotate(distance_km=geo.distance_expression(lat, lng))
        anywhere = stores
        if radius_km is not None:
            radius_km = float(radius_km)
            stores = stores.filter(geo.radius_prefilter(lat, lng, radius_km)).filter(
                geo.within_radius_q(lat, lng, radius_km)
            )
        if ordering == "distance" and geo.uses_earthdistance():
            # A page of nearest stores then sorts a handful of rows, not every store in the radius.
            within_radius = stores if radius_km is not None else None
            stores = stores.filter(geo.WithinKthNearest(anywhere, lat, lng, within_radius=within_radius))
    return with_listing_relations(stores.order_by(*ORDERINGS[ordering]))


def with_listing_relations(stores):
    """What a result card shows, fetched once for the whole page: six small queries.

    City, category and merchant come by prefetch, not by join: PostgreSQL joins before it
    sorts, so a joined "best rated in Shanghai" looked up the merchant of each of 40,000
    stores to keep 20 (about 50 times slower than sorting the stores alone).
    `Store.is_open_now` reads the hours of today and yesterday and the closures of those
    days, in the store's time zone; only rows that can be those are loaded (weekdays and
    dates around today in UTC cover every time zone). Big text columns stay in the database.
    """
    today_utc = timezone.now().date()
    weekdays = sorted({(today_utc.weekday() + shift) % 7 for shift in (-2, -1, 0, 1)})
    hours_around_today = StoreHours.objects.filter(weekday__in=weekdays)
    closures_around_today = StoreClosedDate.objects.filter(
        date__range=(today_utc - dt.timedelta(days=2), today_utc + dt.timedelta(days=1))
    )
    return stores.defer("description", "search_text").prefetch_related(
        "city",
        "category",
        Prefetch("merchant", queryset=Merchant.objects.only("name", "status")),
        Prefetch("photos", queryset=cover_photos(), to_attr="cover_photos"),
        Prefetch("hours", queryset=hours_around_today),
        Prefetch("closed_dates", queryset=closures_around_today),
    )


def cover_photos():
    """One photo per store, the one `Store.cover` picks (the cover, else the first)."""
    first_per_store = Window(
        RowNumber(), partition_by=[F("store_id")], order_by=[F("is_cover").desc(), F("position"), F("pk")]
    )
    return StorePhoto.objects.annotate(rank_in_store=first_per_store).filter(rank_in_store=1)


def listing_cover(store):
    """The card photo of a store from `store_search`, without another query."""
    photos = getattr(store, "cover_photos", None)
    if photos is None:
        return store.cover
    return photos[0] if photos else None


def open_at_q(moment):
    """Stores open at `moment`, in SQL: the same rule as `Store.is_open_at`, per time zone.

    Costs one small query (the cities and their time zones). Cities whose clocks read the
    same at `moment` share one condition (every Chinese city is on Asia/Shanghai), which
    compares each store's hours rows with that local weekday and time.
    """
    city_ids_by_local_time = defaultdict(list)
    for city_id, zone_name in City.objects.order_by().values_list("pk", "timezone"):
        try:
            zone = zoneinfo.ZoneInfo(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            logger.warning("City %s has an unknown time zone %r; its stores never count as open.", city_id, zone_name)
            continue
        city_ids_by_local_time[moment.astimezone(zone).replace(tzinfo=None)].append(city_id)
    condition = Q(pk__in=[])
    for local, city_ids in city_ids_by_local_time.items():
        condition |= Q(city_id__in=city_ids) & open_at_local_q(local)
    return condition


def open_at_local_q(local):
    """Stores open at the local wall-clock time `local` (a naive datetime in the stores' zone)."""
    weekday, now_t, today = local.weekday(), local.time(), local.date()
    closed_yesterday = StoreClosedDate.objects.filter(store=OuterRef("store_id"), date=today - dt.timedelta(days=1))
    open_intervals = StoreHours.objects.filter(store=OuterRef("pk")).filter(
        # Today's intervals: opened already, and closing later today or past midnight.
        Q(weekday=weekday, opens__lte=now_t) & (Q(closes__gt=now_t) | Q(closes__lte=F("opens")))
        # Last night's overnight intervals that have not closed yet, unless yesterday was a closure.
        | Q(weekday=(weekday - 1) % 7, closes__lte=F("opens"), closes__gt=now_t) & ~Exists(closed_yesterday)
    )
    closed_today = StoreClosedDate.objects.filter(store=OuterRef("pk"), date=today)
    return Q(Exists(open_intervals)) & ~Exists(closed_today)


def popular_stores(*, city, limit=8):
    """The best-selling stores of a city (then the best rated), for the home page."""
    if city is None:
        return []
    return list(store_search(city=city.slug, ordering="-sales")[:limit])


def top_categories():
    """The first level of categories, for the home page grid."""
    return list(Category.objects.filter(parent__isnull=True))


def categories_for_choice():
    """Every category as (slug, label, is_sub), each top category followed by its children."""
    categories = list(Category.objects.all())
    children = defaultdict(list)
    for category in categories:
        if category.parent_id:
            children[category.parent_id].append(category)
    options = []
    for category in categories:
        if category.parent_id is None:
            options.append((category.slug, category.label, False))
            options += [(child.slug, child.label, True) for child in children[category.pk]]
    return options


def active_cities():
    return list(City.objects.filter(is_active=True))


def with_detail_relations(stores):
    """What a store page and the store API show: every photo, the week's hours, closures."""
    today_utc = timezone.now().date()
    return stores.select_related("city", "category__parent", "merchant").prefetch_related(
        "photos",
        "hours",
        Prefetch("closed_dates", queryset=StoreClosedDate.objects.filter(date__gte=today_utc - dt.timedelta(days=2))),
    )


def store_for_page(pk):
    """The store `pk` whatever its state (the page explains a suspension), or None."""
    return with_detail_relations(Store.objects.filter(pk=pk)).first()


def discoverable_store_detail():
    """Discoverable stores with what a detail answer shows (the API looks one up by id)."""
    return with_detail_relations(Store.objects.discoverable())


def weekly_hours(store):
    """[(weekday name, [hours rows], is_today)] Monday to Sunday, in the store's time zone."""
    by_day = defaultdict(list)
    for row in store.hours.all():
        by_day[row.weekday].append(row)
    today = store.local_now().weekday()
    return [(WEEKDAYS[day], sorted(by_day[day], key=lambda h: h.opens), day == today) for day in range(7)]


def upcoming_closed_dates(store):
    """Closures from today on, in the store's time zone."""
    today = store.local_now().date()
    return [closure for closure in store.closed_dates.all() if closure.date >= today]


def member_store_list(member):
    """A merchant member's stores for the merchant API, in a fixed number of queries."""
    return with_listing_relations(member_stores(member).order_by("pk"))


def bookable_services(store):
    return list(Service.objects.filter(store=store, is_active=True).order_by("pk"))


def deals_on_sale(store):
    return list(Deal.objects.on_sale().filter(store=store).order_by("pk"))
