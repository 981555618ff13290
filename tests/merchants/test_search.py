"""store_search: filters, orderings, nearby search against a brute-force scan, open-now in SQL."""

import datetime as dt
import math
import random
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from merchants import geo
from merchants.models import Merchant, Store, StoreClosedDate, StoreHours
from merchants.selectors import ORDERINGS, discoverable_stores, store_search
from o2o.errors import Invalid
from tests.factories.merchants import CategoryFactory, CityFactory, MerchantFactory, StoreFactory

pytestmark = pytest.mark.django_db

SHANGHAI = (31.2304, 121.4737)


def pks(stores):
    return [store.pk for store in stores]


def make_store(**kwargs):
    kwargs.setdefault("open_hours", False)
    return StoreFactory(**kwargs)


# --- discoverability --------------------------------------------------------------------


def test_suspended_merchants_stores_vanish_from_search():
    # given
    visible = make_store()
    suspended = make_store(merchant=MerchantFactory(status=Merchant.Status.SUSPENDED))
    # when
    found = pks(store_search())
    # then
    assert visible.pk in found
    assert suspended.pk not in found


def test_discoverable_stores_are_exactly_the_models_discoverable():
    for status in Merchant.Status.values:
        merchant = MerchantFactory(status=status)
        make_store(merchant=merchant, is_published=True)
        make_store(merchant=merchant, is_published=False)

    assert set(pks(discoverable_stores())) == set(pks(Store.objects.discoverable()))
    assert set(pks(store_search())) == set(pks(Store.objects.discoverable()))
    assert len(pks(store_search())) == 1


# --- filters ----------------------------------------------------------------------------


def test_category_includes_its_subcategories():
    food = CategoryFactory(slug="food", name="美食", name_en="Food")
    hotpot = CategoryFactory(slug="hotpot", name="火锅", name_en="Hotpot", parent=food)
    beauty = CategoryFactory(slug="beauty", name="丽人", name_en="Beauty")
    in_food = make_store(merchant=MerchantFactory(category=food))
    in_hotpot = make_store(merchant=MerchantFactory(category=hotpot))
    in_beauty = make_store(merchant=MerchantFactory(category=beauty))

    assert set(pks(store_search(category="food"))) == {in_food.pk, in_hotpot.pk}
    assert set(pks(store_search(category="hotpot"))) == {in_hotpot.pk}
    assert set(pks(store_search(category="beauty"))) == {in_beauty.pk}


def test_city_filter():
    shanghai = CityFactory(slug="shanghai")
    hangzhou = CityFactory(slug="hangzhou", name="杭州", name_en="Hangzhou", latitude=30.2741, longitude=120.1551)
    in_shanghai = make_store(city=shanghai)
    in_hangzhou = make_store(city=hangzhou)

    assert pks(store_search(city="shanghai")) == [in_shanghai.pk]
    assert pks(store_search(city="hangzhou")) == [in_hangzhou.pk]


def test_keyword_matches_names_category_tags_and_address_and_needs_every_term():
    hotpot = CategoryFactory(slug="hotpot", name="火锅", name_en="Hotpot")
    merchant = MerchantFactory(name="Haidilao", category=hotpot)
    store = make_store(merchant=merchant, name="海底捞 People's Square", tags="late night, 24h", address="Fuzhou Road")
    other = make_store(name="Nail Studio", address="Nanjing Road")

    for q in ["haidilao", "HAIDILAO", "火锅", "hotpot", "late night", "fuzhou", "海底捞", "people's"]:
        assert pks(store_search(q=q)) == [store.pk], q
    assert set(pks(store_search(q="road"))) == {store.pk, other.pk}
    # Every term must match, whatever whitespace separates them (full-width space too).
    assert pks(store_search(q="hotpot  fuzhou")) == [store.pk]
    assert pks(store_search(q="火锅\u3000fuzhou")) == [store.pk]
    assert pks(store_search(q="hotpot nail")) == []


def test_keyword_wildcards_are_literal():
    make_store(name="Plain")
    percent = make_store(name="100% Juice")

    assert pks(store_search(q="%")) == [percent.pk]
    assert pks(store_search(q="_")) == []


def test_rating_price_and_deal_filters():
    cheap = make_store(avg_price=Decimal("30.00"), rating=Decimal("3.90"), has_deals=True)
    middle = make_store(avg_price=Decimal("80.00"), rating=Decimal("4.50"))
    dear = make_store(avg_price=Decimal("300.00"), rating=Decimal("4.80"), has_deals=True)

    assert set(pks(store_search(min_rating=Decimal("4.5")))) == {middle.pk, dear.pk}
    assert set(pks(store_search(min_price=Decimal("80")))) == {middle.pk, dear.pk}
    assert set(pks(store_search(max_price=Decimal("80")))) == {cheap.pk, middle.pk}
    assert set(pks(store_search(min_price=Decimal("50"), max_price=Decimal("100")))) == {middle.pk}
    assert set(pks(store_search(has_deals=True))) == {cheap.pk, dear.pk}
    assert set(pks(store_search(has_deals=False))) == {middle.pk}


def test_orderings():
    a = make_store(avg_price=Decimal("50.00"), rating=Decimal("4.10"), sales_count=10, review_count=3)
    b = make_store(avg_price=Decimal("20.00"), rating=Decimal("4.70"), sales_count=5, review_count=9)
    c = make_store(avg_price=Decimal("90.00"), rating=Decimal("4.70"), sales_count=50, review_count=12)

    assert pks(store_search()) == [c.pk, b.pk, a.pk]  # default -rating, then more reviews first
    assert pks(store_search(ordering="-rating")) == [c.pk, b.pk, a.pk]
    assert pks(store_search(ordering="-sales")) == [c.pk, a.pk, b.pk]
    assert pks(store_search(ordering="avg_price")) == [b.pk, a.pk, c.pk]
    assert pks(store_search(ordering="-avg_price")) == [c.pk, a.pk, b.pk]


def test_distance_ordering_is_the_default_with_a_point():
    far = make_store(latitude=31.30, longitude=121.50)
    near = make_store(latitude=31.2310, longitude=121.4740)

    results = list(store_search(lat=SHANGHAI[0], lng=SHANGHAI[1]))

    assert pks(results) == [near.pk, far.pk]
    assert results[0].distance_km == pytest.approx(geo.haversine_km(*SHANGHAI, 31.2310, 121.4740), abs=1e-9)


@pytest.mark.parametrize(
    "arguments",
    [
        {"ordering": "distance"},
        {"ordering": "name"},
        {"lat": 31.2},
        {"lng": 121.4},
        {"radius_km": 3},
    ],
)
def test_inconsistent_arguments_are_invalid(arguments):
    with pytest.raises(Invalid):
        store_search(**arguments)


def test_every_ordering_key_is_offered_by_the_filters():
    from merchants.api.filters import ORDERING_CHOICES

    assert {key for key, _label in ORDERING_CHOICES} == set(ORDERINGS)


# --- nearby search against brute force --------------------------------------------------


def brute_force(stores, lat, lng, radius_km):
    """What a full scan with the reference formula returns: (distance, pk) in order."""
    hits = []
    for store in stores:
        distance = geo.haversine_km(lat, lng, store.latitude, store.longitude)
        if radius_km is None or distance <= radius_km:
            hits.append((distance, store.pk))
    return sorted(hits)


def assert_same_as_brute_force(stores, lat, lng, radius_km):
    expected = brute_force(stores, lat, lng, radius_km)
    found = list(store_search(lat=lat, lng=lng, radius_km=radius_km))
    assert [store.pk for store in found] == [pk for _distance, pk in expected], (lat, lng, radius_km)
    for store, (distance, _pk) in zip(found, expected, strict=True):
        assert abs(store.distance_km - distance) <= 1e-6


def random_stores(rng, merchant, city, centre, spread_km, count):
    """Stores scattered around `centre`, denser near it, with a few sharing one building."""
    rows = []
    for _ in range(count):
        distance = rng.expovariate(1 / spread_km)
        bearing = rng.uniform(0, 2 * math.pi)
        lat = centre[0] + distance * math.cos(bearing) / 111.2
        lng = centre[1] + distance * math.sin(bearing) / (111.2 * max(math.cos(math.radians(lat)), 0.01))
        lat = max(-90.0, min(90.0, lat))
        lng = (lng + 180) % 360 - 180
        rows.append(
            Store(
                merchant=merchant,
                city=city,
                category=merchant.category,
                name="s",
                address="a",
                latitude=lat,
                longitude=lng,
                is_published=True,
            )
        )
    # A mall: several stores at exactly the same point, so the tie order matters.
    for _ in range(4):
        rows.append(
            Store(
                merchant=merchant,
                city=city,
                category=merchant.category,
                name="mall",
                address="a",
                latitude=centre[0] + 0.001,
                longitude=centre[1] + 0.001,
                is_published=True,
            )
        )
    return Store.objects.bulk_create(rows)


@pytest.fixture
def scattered_stores():
    rng = random.Random(20261201)
    merchant = MerchantFactory()
    city = CityFactory()
    stores = random_stores(rng, merchant, city, SHANGHAI, 6, 300)
    stores += random_stores(rng, merchant, city, (-16.8, 179.95), 20, 30)  # across the 180° meridian (Fiji)
    stores += random_stores(rng, merchant, city, (89.95, 0.0), 5, 30)  # around the North Pole
    hidden = MerchantFactory(status=Merchant.Status.SUSPENDED)
    random_stores(rng, hidden, city, SHANGHAI, 6, 20)  # must never appear
    return stores, rng


def test_nearby_search_returns_what_a_brute_force_scan_returns(scattered_stores):
    stores, rng = scattered_stores
    queries = [
        (SHANGHAI[0], SHANGHAI[1], 3.0),
        (31.2304 + 0.001, 121.4737 + 0.001, 0.2),
        (-16.8, 179.99, 50.0),
        (-16.8, -179.99, 25.0),
        (89.99, 120.0, 30.0),
        (89.9, -60.0, 8.0),
    ]
    for _ in range(12):
        distance, bearing = rng.uniform(0, 15), rng.uniform(0, 2 * math.pi)
        queries.append(
            (
                SHANGHAI[0] + distance * math.cos(bearing) / 111.2,
                SHANGHAI[1] + distance * math.sin(bearing) / 95.0,
                rng.choice([0.5, 1.0, 3.0, 5.0, 12.5, 50.0]),
            )
        )
    for lat, lng, radius_km in queries:
        assert_same_as_brute_force(stores, lat, lng, radius_km)


def test_nearby_pages_are_slices_of_the_brute_force_order(scattered_stores):
    stores, _rng = scattered_stores
    # A building with 30 shops: page boundaries fall inside a group of equal distances.
    merchant = MerchantFactory()
    stores += Store.objects.bulk_create(
        Store(
            merchant=merchant,
            city=stores[0].city,
            category=merchant.category,
            name="tower",
            address="a",
            latitude=31.2320,
            longitude=121.4750,
            is_published=True,
        )
        for _ in range(30)
    )
    for lat, lng, radius_km in [
        (31.2321, 121.4751, 3.0),
        (31.2321, 121.4751, None),
        (31.0, 121.0, 50.0),
        (31.2304, 121.4737, 0.05),
    ]:
        expected = [pk for _distance, pk in brute_force(stores, lat, lng, radius_km)]
        found = store_search(lat=lat, lng=lng, radius_km=radius_km)
        for start, stop in [(0, 20), (20, 40), (40, 60), (0, 1), (7, 8), (19, 21), (0, 500)]:
            assert pks(found[start:stop]) == expected[start:stop], (lat, lng, radius_km, start, stop)
        assert found.count() == len(expected)
        assert pks(found) == expected


def test_nearby_without_radius_orders_every_store_by_distance(scattered_stores):
    stores, _rng = scattered_stores
    assert_same_as_brute_force(stores, 30.0, 120.0, None)


def test_nearby_combines_with_other_filters():
    food = CategoryFactory(slug="food")
    near_food = make_store(merchant=MerchantFactory(category=food), latitude=31.2310, longitude=121.4740)
    make_store(latitude=31.2311, longitude=121.4741)  # near, another category
    make_store(merchant=MerchantFactory(category=food), latitude=31.40, longitude=121.60)  # food, too far

    found = list(store_search(lat=SHANGHAI[0], lng=SHANGHAI[1], radius_km=3, category="food"))

    assert pks(found) == [near_food.pk]


@settings(max_examples=200, deadline=None)
@given(
    lat=st.floats(-89.9, 89.9),
    lng=st.floats(-180, 180),
    radius_km=st.floats(0.01, 500),
    bearing=st.floats(0, 2 * math.pi),
    share=st.floats(0, 1),
)
def test_bounding_boxes_hold_every_point_of_the_circle(lat, lng, radius_km, bearing, share):
    # A point at distance share·r along `bearing` (destination formula on the sphere).
    angle = radius_km * share / geo.EARTH_RADIUS_KM
    phi1, lambda1 = math.radians(lat), math.radians(lng)
    phi2 = math.asin(math.sin(phi1) * math.cos(angle) + math.cos(phi1) * math.sin(angle) * math.cos(bearing))
    lambda2 = lambda1 + math.atan2(
        math.sin(bearing) * math.sin(angle) * math.cos(phi1), math.cos(angle) - math.sin(phi1) * math.sin(phi2)
    )
    point_lat, point_lng = math.degrees(phi2), (math.degrees(lambda2) + 180) % 360 - 180
    if geo.haversine_km(lat, lng, point_lat, point_lng) > radius_km:
        return  # rounding put it outside the circle: nothing to hold
    assert any(
        lat_min <= point_lat <= lat_max and lng_min <= point_lng <= lng_max
        for lat_min, lat_max, lng_min, lng_max in geo.bounding_boxes(lat, lng, radius_km)
    )


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-88, 88),
    lng=st.floats(-179.5, 179.5),
    radius_km=st.floats(0.01, 300),
    lat_share=st.floats(0, 1),
    lng_share=st.floats(0, 1),
)
def test_inner_box_lies_inside_the_circle(lat, lng, radius_km, lat_share, lng_share):
    box = geo.inner_box(lat, lng, radius_km)
    if box is None:
        return
    lat_min, lat_max, lng_min, lng_max = box
    point_lat = lat_min + (lat_max - lat_min) * lat_share
    point_lng = lng_min + (lng_max - lng_min) * lng_share
    assert geo.haversine_km(lat, lng, point_lat, point_lng) <= radius_km


def test_haversine_reference_distance():
    # Shanghai to Hangzhou, about 165 km as the crow flies.
    assert geo.haversine_km(31.2304, 121.4737, 30.2741, 120.1551) == pytest.approx(164.8, abs=0.5)
    assert geo.haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * geo.EARTH_RADIUS_KM)


def explain(queryset):
    """The plan PostgreSQL picks when it must use an index if it can (the tables are tiny)."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")  # leaves bitmap scans, as in a count
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
def test_postgres_nearby_uses_the_gist_index(scattered_stores):
    assert "store_earth_gist" in explain(store_search(lat=SHANGHAI[0], lng=SHANGHAI[1], radius_km=3))


@pytest.mark.postgres
def test_postgres_keyword_search_can_use_the_trigram_index():
    make_store(name="海底捞火锅 People's Square")
    assert "store_search_trgm" in explain(store_search(q="people"))


# --- open now ---------------------------------------------------------------------------


def set_hours(store, intervals):
    StoreHours.objects.bulk_create(StoreHours(store=store, weekday=w, opens=o, closes=c) for w, o, c in intervals)


def test_overnight_hours_run_past_midnight():
    # given: open 17:00-02:00 on Mondays only
    store = make_store()
    set_hours(store, [(0, dt.time(17), dt.time(2))])
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    monday = dt.datetime(2026, 12, 7, tzinfo=shanghai)
    assert monday.weekday() == 0

    def open_at(moment):
        return pks(store_search(open_now=True, now=moment)) == [store.pk]

    # then
    assert not open_at(monday.replace(hour=16, minute=59))
    assert open_at(monday.replace(hour=17))
    assert open_at(monday.replace(hour=23, minute=30))
    assert open_at(monday + dt.timedelta(days=1, hours=1))  # 01:00 Tuesday
    assert not open_at(monday + dt.timedelta(days=1, hours=2))  # 02:00 Tuesday: closed
    assert not open_at(monday + dt.timedelta(days=1, hours=17))  # Tuesday evening: no hours

    # A closure on Monday also ends Monday night's hours; one on Tuesday closes all of Tuesday.
    StoreClosedDate.objects.create(store=store, date=monday.date())
    assert not open_at(monday + dt.timedelta(days=1, hours=1))
    StoreClosedDate.objects.all().delete()
    StoreClosedDate.objects.create(store=store, date=monday.date() + dt.timedelta(days=1))
    assert not open_at(monday + dt.timedelta(days=1, hours=1))


def test_open_now_uses_each_citys_time_zone():
    shanghai = CityFactory(slug="shanghai")
    london = CityFactory(
        slug="london", name="伦敦", name_en="London", timezone="Europe/London", latitude=51.5, longitude=-0.12
    )
    in_shanghai = make_store(city=shanghai)
    in_london = make_store(city=london)
    for store in (in_shanghai, in_london):
        set_hours(store, [(d, dt.time(9), dt.time(18)) for d in range(7)])

    # 10:00 in Shanghai is 02:00 in London (winter).
    moment = dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC)

    assert pks(store_search(open_now=True, now=moment)) == [in_shanghai.pk]


ZONES = ["Asia/Shanghai", "America/Los_Angeles", "Pacific/Auckland"]


def random_week(rng):
    """Random weekly hours: closed days, breaks, overnight intervals, 24-hour days."""
    intervals = []
    for weekday in range(7):
        shape = rng.choice(["closed", "day", "break", "overnight", "all_day", "day"])
        hour = rng.randint(5, 12)
        if shape == "day":
            intervals.append((weekday, dt.time(hour, rng.choice([0, 30])), dt.time(rng.randint(hour + 1, 23), 0)))
        elif shape == "break":
            intervals.append((weekday, dt.time(hour), dt.time(hour + 3)))
            intervals.append((weekday, dt.time(hour + 4, 30), dt.time(22, 15)))
        elif shape == "overnight":
            intervals.append((weekday, dt.time(rng.randint(16, 21), 0), dt.time(rng.randint(0, 5), 30)))
        elif shape == "all_day":
            intervals.append((weekday, dt.time(0), dt.time(0)))
    return intervals


def test_open_now_in_sql_agrees_with_is_open_at_at_random_times():
    rng = random.Random(7)
    cities = [CityFactory(slug=f"zone-{i}", name=zone, name_en=zone, timezone=zone) for i, zone in enumerate(ZONES)]
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)  # spans the March DST changes
    stores = []
    for i in range(36):
        store = make_store(city=cities[i % len(cities)])
        set_hours(store, random_week(rng))
        closures = {(start + dt.timedelta(days=rng.randint(0, 30))).date() for _ in range(rng.randint(0, 6))}
        StoreClosedDate.objects.bulk_create(StoreClosedDate(store=store, date=d) for d in closures)
        stores.append(store)
    stores = list(
        Store.objects.filter(pk__in=pks(stores)).select_related("city").prefetch_related("hours", "closed_dates")
    )

    open_counts = []
    for _ in range(150):
        moment = start + dt.timedelta(minutes=rng.randint(0, 31 * 24 * 60), seconds=rng.choice([0, 0, 59.5]))
        expected = {store.pk for store in stores if store.is_open_at(moment)}
        assert set(pks(store_search(open_now=True, now=moment))) == expected, moment
        open_counts.append(len(expected))
    # The sample is not vacuous: some moments find many stores open, some few.
    assert min(open_counts) < 10 < max(open_counts)


def test_open_now_costs_one_query_for_the_time_zones():
    store = make_store()
    set_hours(store, [(d, dt.time(0), dt.time(0)) for d in range(7)])  # open around the clock
    with CaptureQueriesContext(connection) as plain:
        list(store_search())
    with CaptureQueriesContext(connection) as open_now:
        list(store_search(open_now=True))
    assert len(open_now) == len(plain) + 1


def test_result_cards_need_a_fixed_number_of_queries():
    def count_queries(number_of_stores):
        Store.objects.all().delete()
        merchant = MerchantFactory()
        for _ in range(number_of_stores):
            StoreFactory(merchant=merchant)
        with CaptureQueriesContext(connection) as queries:
            for store in store_search(lat=SHANGHAI[0], lng=SHANGHAI[1], radius_km=5):
                (store.city.name, store.category.name, store.merchant.name, store.is_open_now, store.cover_photos)
        return len(queries)

    assert count_queries(3) == count_queries(30)
