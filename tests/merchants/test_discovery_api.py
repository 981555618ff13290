"""Discovery API: cities, categories, store search and detail, a member's stores (DESIGN §10)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from merchants import geo
from merchants.models import Merchant, MerchantMember, Store, StoreClosedDate, StoreHours, StorePhoto
from tests.factories.merchants import CategoryFactory, CityFactory, MemberFactory, MerchantFactory, StoreFactory

pytestmark = pytest.mark.django_db

STORES_URL = "/api/v1/stores/"
SHANGHAI = (31.2304, 121.4737)
LIST_FIELDS = {
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
}


def always_open(store):
    StoreHours.objects.filter(store=store).delete()
    StoreHours.objects.bulk_create(
        StoreHours(store=store, weekday=d, opens=dt.time(0), closes=dt.time(0)) for d in range(7)
    )
    return store


def never_open(store):
    StoreHours.objects.filter(store=store).delete()
    return store


def add_photo(store, *, cover=False, position=0, caption=""):
    # Rows only: the API builds URLs from the names and never opens the files.
    return StorePhoto.objects.create(
        store=store,
        image=f"stores/test/{store.pk}-{position}.jpg",
        thumbnail=f"stores/test/thumbs/{store.pk}-{position}.jpg",
        width=800,
        height=600,
        is_cover=cover,
        position=position,
        caption=caption,
    )


def result_ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- reference lists --------------------------------------------------------------------


def test_cities_list(api_client):
    CityFactory(slug="shanghai")
    CityFactory(slug="hangzhou", name="杭州", name_en="Hangzhou", latitude=30.2741, longitude=120.1551, position=2)
    CityFactory(slug="closed", name="关", name_en="Closed", is_active=False)

    body = api_client.get("/api/v1/cities/").json()

    assert body["count"] == 2
    assert body["results"][0] == {
        "slug": "shanghai",
        "name": "上海",
        "name_en": "Shanghai",
        "latitude": 31.2304,
        "longitude": 121.4737,
    }
    assert [city["slug"] for city in body["results"]] == ["shanghai", "hangzhou"]


def test_categories_list_names_the_parent(api_client):
    food = CategoryFactory(slug="food", name="美食", name_en="Food", icon="🍜")
    CategoryFactory(slug="hotpot", name="火锅", name_en="Hotpot", parent=food, position=1)

    rows = {row["slug"]: row for row in api_client.get("/api/v1/categories/").json()["results"]}

    assert rows["food"] == {"slug": "food", "name": "美食", "name_en": "Food", "parent": None, "icon": "🍜"}
    assert rows["hotpot"]["parent"] == "food"


# --- store list ---------------------------------------------------------------------------


def test_store_list_result_shape(api_client):
    store = always_open(StoreFactory(name="海底捞", rating=Decimal("4.60"), review_count=12))
    add_photo(store, position=1)
    cover = add_photo(store, cover=True, position=2)

    row = api_client.get(STORES_URL).json()["results"][0]

    assert set(row) == LIST_FIELDS  # no distance_km without a point
    assert row["id"] == store.pk
    assert row["merchant"] == {"id": store.merchant_id, "name": store.merchant.name}
    assert row["category"]["slug"] == store.category.slug
    assert row["city"] == {"slug": "shanghai", "name": "上海", "name_en": "Shanghai"}
    assert (row["lat"], row["lng"]) == (31.2304, 121.4737)
    assert (row["rating"], row["review_count"], row["avg_price"]) == ("4.60", 12, "80.00")
    assert row["is_open_now"] is True
    assert row["cover"]["id"] == cover.pk
    assert row["cover"]["thumbnail_url"].endswith(cover.thumbnail.url)


@pytest.mark.parametrize("with_point", [False, True])
def test_hand_written_rows_match_the_declared_fields(rf, with_point):
    from rest_framework import serializers

    from merchants.api.serializers import StoreListSerializer
    from merchants.selectors import store_search

    store = always_open(StoreFactory(rating=Decimal("4.25"), review_count=3))
    add_photo(store, cover=True)
    point = {"lat": 31.2300, "lng": 121.4700} if with_point else {}
    found = next(iter(store_search(**point)))
    serializer = StoreListSerializer(context={"request": rf.get("/")})

    fast = serializer.to_representation(found)
    by_fields = serializers.ModelSerializer.to_representation(serializer, found)

    assert fast == by_fields
    assert ("distance_km" in fast) is with_point


def test_store_list_is_paginated(api_client):
    merchant = MerchantFactory()
    for _ in range(3):
        StoreFactory(merchant=merchant)

    body = api_client.get(STORES_URL, {"page_size": 2}).json()

    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert "page=2" in body["next"]
    assert body["previous"] is None


def test_suspended_merchants_stores_are_absent(api_client):
    visible = StoreFactory()
    StoreFactory(merchant=MerchantFactory(status=Merchant.Status.SUSPENDED))
    StoreFactory(merchant=MerchantFactory(status=Merchant.Status.APPLIED))
    StoreFactory(is_published=False)

    assert result_ids(api_client.get(STORES_URL)) == [visible.pk]


def test_filter_by_city(api_client):
    hangzhou = CityFactory(slug="hangzhou", name="杭州", name_en="Hangzhou", latitude=30.2741, longitude=120.1551)
    StoreFactory()
    in_hangzhou = StoreFactory(city=hangzhou)

    assert result_ids(api_client.get(STORES_URL, {"city": "hangzhou"})) == [in_hangzhou.pk]


def test_filter_by_category_includes_subcategories(api_client):
    food = CategoryFactory(slug="food")
    hotpot = CategoryFactory(slug="hotpot", parent=food)
    in_food = StoreFactory(merchant=MerchantFactory(category=food))
    in_hotpot = StoreFactory(merchant=MerchantFactory(category=hotpot))
    StoreFactory()

    assert set(result_ids(api_client.get(STORES_URL, {"category": "food"}))) == {in_food.pk, in_hotpot.pk}
    assert result_ids(api_client.get(STORES_URL, {"category": "hotpot"})) == [in_hotpot.pk]


def test_filter_by_keyword(api_client):
    store = StoreFactory(name="海底捞火锅", tags="late night")
    StoreFactory(name="Nail studio")

    assert result_ids(api_client.get(STORES_URL, {"q": "海底捞"})) == [store.pk]
    assert result_ids(api_client.get(STORES_URL, {"q": "LATE night"})) == [store.pk]
    assert result_ids(api_client.get(STORES_URL, {"q": "late studio"})) == []


def test_nearby_filter_gives_distances_in_order(api_client):
    merchant = MerchantFactory()
    near = StoreFactory(merchant=merchant, latitude=31.2310, longitude=121.4745)
    farther = StoreFactory(merchant=merchant, latitude=31.2500, longitude=121.4900)
    StoreFactory(merchant=merchant, latitude=31.4000, longitude=121.7000)  # about 28 km away

    response = api_client.get(STORES_URL, {"lat": SHANGHAI[0], "lng": SHANGHAI[1], "radius_km": "5"})

    assert result_ids(response) == [near.pk, farther.pk]
    rows = response.json()["results"]
    assert rows[0]["distance_km"] == pytest.approx(geo.haversine_km(*SHANGHAI, 31.2310, 121.4745), abs=1e-6)
    assert rows[0]["distance_km"] < rows[1]["distance_km"] < 5


def test_point_without_radius_orders_everything_by_distance(api_client):
    merchant = MerchantFactory()
    far = StoreFactory(merchant=merchant, latitude=31.4000, longitude=121.7000)
    near = StoreFactory(merchant=merchant, latitude=31.2310, longitude=121.4745)

    assert result_ids(api_client.get(STORES_URL, {"lat": SHANGHAI[0], "lng": SHANGHAI[1]})) == [near.pk, far.pk]


def test_filter_open_now(api_client):
    open_store = always_open(StoreFactory())
    never_open(StoreFactory())

    assert result_ids(api_client.get(STORES_URL, {"open_now": "true"})) == [open_store.pk]
    assert len(result_ids(api_client.get(STORES_URL, {"open_now": "false"}))) == 2


def test_filter_has_deals(api_client):
    with_deals = StoreFactory(has_deals=True)
    without = StoreFactory()

    assert result_ids(api_client.get(STORES_URL, {"has_deals": "true"})) == [with_deals.pk]
    assert result_ids(api_client.get(STORES_URL, {"has_deals": "false"})) == [without.pk]


def test_filter_min_rating(api_client):
    good = StoreFactory(rating=Decimal("4.60"))
    StoreFactory(rating=Decimal("4.40"))

    assert result_ids(api_client.get(STORES_URL, {"min_rating": "4.5"})) == [good.pk]


def test_filter_price_range(api_client):
    cheap = StoreFactory(avg_price=Decimal("30.00"))
    middle = StoreFactory(avg_price=Decimal("80.00"))
    dear = StoreFactory(avg_price=Decimal("300.00"))

    assert result_ids(api_client.get(STORES_URL, {"min_price": "50", "max_price": "100"})) == [middle.pk]
    assert set(result_ids(api_client.get(STORES_URL, {"max_price": "80"}))) == {cheap.pk, middle.pk}
    assert set(result_ids(api_client.get(STORES_URL, {"min_price": "80.00"}))) == {middle.pk, dear.pk}


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-rating", ["b", "c", "a"]),
        ("-sales", ["c", "a", "b"]),
        ("avg_price", ["a", "b", "c"]),
        ("-avg_price", ["c", "b", "a"]),
    ],
)
def test_orderings(api_client, ordering, expected):
    merchant = MerchantFactory()
    stores = {
        "a": StoreFactory(merchant=merchant, avg_price=Decimal("10.00"), rating=Decimal("3.00"), sales_count=5),
        "b": StoreFactory(merchant=merchant, avg_price=Decimal("20.00"), rating=Decimal("4.90"), sales_count=1),
        "c": StoreFactory(merchant=merchant, avg_price=Decimal("30.00"), rating=Decimal("4.00"), sales_count=50),
    }

    found = result_ids(api_client.get(STORES_URL, {"ordering": ordering}))

    assert found == [stores[key].pk for key in expected]


def test_ordering_by_rating_with_a_point(api_client):
    merchant = MerchantFactory()
    near = StoreFactory(merchant=merchant, latitude=31.2310, longitude=121.4745, rating=Decimal("3.00"))
    far_better = StoreFactory(merchant=merchant, latitude=31.2500, longitude=121.4900, rating=Decimal("4.80"))

    response = api_client.get(STORES_URL, {"lat": SHANGHAI[0], "lng": SHANGHAI[1], "ordering": "-rating"})

    assert result_ids(response) == [far_better.pk, near.pk]
    assert all("distance_km" in row for row in response.json()["results"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "91", "lng": "121"}, "lat"),
        ({"lat": "-90.5", "lng": "121"}, "lat"),
        ({"lat": "31", "lng": "180.1"}, "lng"),
        ({"lat": "31", "lng": "-181"}, "lng"),
        ({"lat": "31"}, "lng"),
        ({"lng": "121"}, "lat"),
        ({"lat": "31", "lng": "121", "radius_km": "0"}, "radius_km"),
        ({"lat": "31", "lng": "121", "radius_km": "-3"}, "radius_km"),
        ({"lat": "31", "lng": "121", "radius_km": "51"}, "radius_km"),
        ({"radius_km": "3"}, "radius_km"),
        ({"ordering": "name"}, "ordering"),
        ({"ordering": "distance"}, "ordering"),
        ({"min_price": "100", "max_price": "50"}, "max_price"),
        ({"min_price": "-1"}, "min_price"),
        ({"lat": "north", "lng": "121"}, "lat"),
        ({"lat": "NaN", "lng": "121"}, "lat"),
        ({"lat": "31", "lng": "Infinity"}, "lng"),
        ({"min_rating": "five"}, "min_rating"),
        ({"min_rating": "6"}, "min_rating"),
        ({"max_price": "1e400"}, "max_price"),
        ({"open_now": "maybe"}, "open_now"),
        ({"has_deals": "2"}, "has_deals"),
        ({"city": "atlantis"}, "city"),
        ({"category": "no-such-category"}, "category"),
    ],
)
def test_bad_filters_answer_400_naming_the_field(api_client, params, field):
    CityFactory()

    response = api_client.get(STORES_URL, params)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"], body
    assert body["detail"]


def test_list_runs_a_fixed_number_of_queries(api_client):
    def queries_for(number_of_stores):
        Store.objects.all().delete()
        merchant = MerchantFactory()
        for _ in range(number_of_stores):
            store = always_open(StoreFactory(merchant=merchant))
            add_photo(store, cover=True)
            StoreClosedDate.objects.create(store=store, date=dt.date.today() + dt.timedelta(days=30))
        params = {
            "lat": SHANGHAI[0],
            "lng": SHANGHAI[1],
            "radius_km": "3",
            "city": "shanghai",
            "open_now": "true",
            "page_size": 50,
        }
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(STORES_URL, params)
        assert response.status_code == 200
        return len(queries), response.json()["count"]

    few, few_count = queries_for(3)
    many, many_count = queries_for(30)
    assert many == few
    assert (few_count, many_count) == (3, 30)


def test_plain_list_query_budget(api_client, django_assert_max_num_queries):
    merchant = MerchantFactory()
    for _ in range(25):
        add_photo(StoreFactory(merchant=merchant), cover=True)

    # count, page, then one each for cities, categories, merchants, cover photos, hours, closures
    with django_assert_max_num_queries(8):
        assert api_client.get(STORES_URL).status_code == 200


# --- store detail ---------------------------------------------------------------------------


def test_store_detail(api_client):
    store = StoreFactory(phone="021-12345678", description="Hotpot since 1994", tags="hotpot, late night")
    StoreHours.objects.filter(store=store).delete()
    StoreHours.objects.bulk_create(
        [
            StoreHours(store=store, weekday=0, opens=dt.time(11), closes=dt.time(14)),
            StoreHours(store=store, weekday=0, opens=dt.time(17), closes=dt.time(2)),
        ]
    )
    future = dt.date.today() + dt.timedelta(days=10)
    StoreClosedDate.objects.create(store=store, date=future, note="Staff outing")
    StoreClosedDate.objects.create(store=store, date=dt.date.today() - dt.timedelta(days=30))
    first = add_photo(store, position=1, caption="Hall")
    cover = add_photo(store, cover=True, position=5)

    body = api_client.get(f"/api/v1/stores/{store.pk}/").json()

    assert set(body) >= LIST_FIELDS
    assert body["phone"] == "021-12345678"
    assert body["description"] == "Hotpot since 1994"
    assert body["tags"] == ["hotpot", "late night"]
    assert body["hours"] == [
        {"weekday": 0, "opens": "11:00", "closes": "14:00"},
        {"weekday": 0, "opens": "17:00", "closes": "02:00"},
    ]
    assert body["closed_dates"] == [{"date": future.isoformat(), "note": "Staff outing"}]
    assert [photo["id"] for photo in body["photos"]] == [cover.pk, first.pk]  # cover first
    assert body["photos"][1]["caption"] == "Hall"
    assert body["photos"][0]["is_cover"] is True
    assert body["photos"][0]["url"].startswith("http://testserver/")
    assert body["cover"]["id"] == cover.pk
    assert isinstance(body["is_open_now"], bool)
    assert body["merchant_status"] == "approved"
    assert (body["services"], body["deals"], body["campaigns"]) == ([], [], [])


@pytest.mark.parametrize(
    "make",
    [
        lambda: StoreFactory(is_published=False),
        lambda: StoreFactory(merchant=MerchantFactory(status=Merchant.Status.SUSPENDED)),
        lambda: StoreFactory(merchant=MerchantFactory(status=Merchant.Status.APPLIED)),
        lambda: StoreFactory(merchant=MerchantFactory(status=Merchant.Status.REJECTED)),
    ],
    ids=["unpublished", "suspended", "applied", "rejected"],
)
def test_hidden_store_detail_is_404(api_client, make):
    store = make()

    response = api_client.get(f"/api/v1/stores/{store.pk}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_store_is_404(api_client):
    assert api_client.get("/api/v1/stores/999999/").status_code == 404


# --- a member's stores ----------------------------------------------------------------------


def test_member_sees_own_stores_published_or_not(api_client, user_factory):
    member = MemberFactory(user=user_factory())
    published = StoreFactory(merchant=member.merchant)
    draft = StoreFactory(merchant=member.merchant, is_published=False)
    StoreFactory()  # another merchant's
    api_client.force_authenticate(member.user)

    body = api_client.get("/api/v1/merchant/stores/").json()

    assert [row["id"] for row in body["results"]] == [published.pk, draft.pk]
    assert [row["is_published"] for row in body["results"]] == [True, False]


def test_clerk_sees_only_assigned_stores(api_client, user_factory):
    owner = MemberFactory(user=user_factory())
    assigned = StoreFactory(merchant=owner.merchant)
    StoreFactory(merchant=owner.merchant)
    clerk = MemberFactory(user=user_factory(), merchant=owner.merchant, role=MerchantMember.Role.CLERK)
    clerk.stores.add(assigned)
    api_client.force_authenticate(clerk.user)

    assert result_ids(api_client.get("/api/v1/merchant/stores/")) == [assigned.pk]


def test_member_stores_refuse_strangers(api_client, user_factory):
    assert api_client.get("/api/v1/merchant/stores/").status_code in (401, 403)
    api_client.force_authenticate(user_factory())
    assert api_client.get("/api/v1/merchant/stores/").status_code == 403


# --- schema ---------------------------------------------------------------------------------


def test_schema_documents_the_store_filters(api_client):
    response = api_client.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    operation = response.json()["paths"]["/api/v1/stores/"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    for name in [
        "city",
        "category",
        "q",
        "lat",
        "lng",
        "radius_km",
        "open_now",
        "has_deals",
        "min_rating",
        "min_price",
        "max_price",
        "ordering",
        "page",
    ]:
        assert name in parameters, name
    assert parameters["ordering"]["schema"]["enum"] == ["-avg_price", "-rating", "-sales", "avg_price", "distance"]
    assert parameters["open_now"]["schema"]["type"] == "boolean"
