"""Consumer discovery pages: home, search and the store page."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from merchants.models import Merchant, Store, StoreClosedDate, StoreHours, StorePhoto
from tests.factories.merchants import CategoryFactory, CityFactory, MerchantFactory, StoreFactory

pytestmark = pytest.mark.django_db

SEARCH_URL = reverse("merchants:search")


def always_open(store):
    StoreHours.objects.filter(store=store).delete()
    StoreHours.objects.bulk_create(
        StoreHours(store=store, weekday=d, opens=dt.time(0), closes=dt.time(0)) for d in range(7)
    )
    return store


def never_open(store):
    StoreHours.objects.filter(store=store).delete()
    return store


def add_photo(store, *, cover=False, position=0):
    return StorePhoto.objects.create(
        store=store,
        image=f"stores/test/{store.pk}-{position}.jpg",
        thumbnail=f"stores/test/thumbs/{store.pk}-{position}.jpg",
        width=800,
        height=600,
        is_cover=cover,
        position=position,
    )


@pytest.fixture
def cities():
    return (
        CityFactory(slug="shanghai"),
        CityFactory(slug="hangzhou", name="杭州", name_en="Hangzhou", latitude=30.2741, longitude=120.1551, position=2),
    )


# --- home -------------------------------------------------------------------------------------


def test_home_shows_categories_and_popular_stores_of_the_current_city(client, cities):
    shanghai, hangzhou = cities
    food = CategoryFactory(slug="food", name="美食", name_en="Food", icon="🍜")
    CategoryFactory(slug="sichuan-hotpot", name="川味火锅", name_en="Sichuan pot", parent=food)
    best_seller = StoreFactory(name="Best seller", city=shanghai, sales_count=500)
    runner_up = StoreFactory(name="Runner up", city=shanghai, sales_count=20)
    StoreFactory(name="In Hangzhou", city=hangzhou, sales_count=9000)

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{SEARCH_URL}?category=food&amp;city=shanghai"' in html
    assert "🍜" in html
    assert "Sichuan pot" not in html  # only top categories in the grid
    assert html.index(best_seller.name) < html.index(runner_up.name)
    assert "In Hangzhou" not in html
    assert 'id="use-location"' in html
    assert response.context["current_city"].slug == "shanghai"


def test_city_switch_remembers_the_city(client, cities):
    StoreFactory(name="In Hangzhou", city=cities[1])

    response = client.get("/", {"city": "hangzhou"})
    assert response.status_code == 302

    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "In Hangzhou" in html
    assert re.search(r'<option value="hangzhou" selected>', html)


def test_unknown_city_is_ignored(client, cities):
    client.get("/", {"city": "atlantis"})

    assert client.get("/").context["current_city"].slug == "shanghai"


def test_home_without_any_data(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "No stores here yet" in response.content.decode()


def test_home_escapes_store_names(client, cities):
    StoreFactory(name="<script>alert(1)</script>", city=cities[0])

    html = client.get("/").content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- search -----------------------------------------------------------------------------------


def test_search_shows_result_cards(client, cities):
    store = always_open(StoreFactory(name="海底捞", rating=Decimal("4.60"), review_count=12, has_deals=True))
    add_photo(store, cover=True)

    response = client.get(SEARCH_URL, {"q": "海底捞"}, HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert response.status_code == 200
    assert "海底捞" in html
    assert store.get_absolute_url() in html
    assert "12 reviews" in html
    assert "¥80/person" in html
    assert "Open now" in html
    assert "Has deals" in html
    assert f"stores/test/thumbs/{store.pk}-0.jpg" in html
    assert "1 store" in html


def test_search_with_a_point_shows_distances_and_passes_the_point_on(client, cities):
    StoreFactory(name="Near", latitude=31.2310, longitude=121.4745)
    StoreFactory(name="Far", latitude=31.4000, longitude=121.7000)

    response = client.get(
        SEARCH_URL, {"lat": "31.2304", "lng": "121.4737", "radius_km": "3"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    html = response.content.decode()
    assert "Near" in html and "Far" not in html
    assert re.search(r"\d+ m", html)  # under a kilometre is shown in metres
    assert "?lat=31.2304&amp;lng=121.4737" in html
    assert 'aria-current="true">Nearest<' in html


def test_search_empty_state_offers_to_clear_filters(client, cities):
    StoreFactory(name="Somewhere")

    response = client.get(SEARCH_URL, {"q": "nothing-like-this"}, HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert response.status_code == 200
    assert "No stores match your search." in html
    assert f'href="{SEARCH_URL}">Clear filters' in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lat": "95", "lng": "121"}, "Latitude"),
        ({"lat": "31"}, "Give both lat and lng."),
        ({"min_price": "100", "max_price": "5"}, "The highest price is below the lowest price."),
        ({"ordering": "distance"}, "Ordering by distance needs lat and lng."),
        ({"city": "atlantis"}, "There is no city"),
        ({"open_now": "perhaps"}, "Use true or false."),
        ({"min_rating": "lots"}, "Enter a number."),
    ],
)
def test_bad_filters_are_explained_not_a_500(client, cities, params, message):
    response = client.get(SEARCH_URL, params, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert message in html


def test_search_filters_like_the_api(client, cities):
    food = CategoryFactory(slug="food", name="美食", name_en="Food")
    wanted = always_open(
        StoreFactory(
            name="Wanted",
            merchant=MerchantFactory(category=food),
            has_deals=True,
            avg_price=Decimal("60.00"),
            rating=Decimal("4.50"),
        )
    )
    never_open(StoreFactory(name="Closed one", merchant=MerchantFactory(category=food), has_deals=True))
    always_open(StoreFactory(name="No deals", merchant=MerchantFactory(category=food)))
    always_open(StoreFactory(name="Elsewhere", city=cities[1], has_deals=True))

    params = {
        "city": "shanghai",
        "category": "food",
        "open_now": "true",
        "has_deals": "true",
        "min_rating": "4",
        "min_price": "50",
        "max_price": "100",
        "ordering": "-sales",
    }
    response = client.get(SEARCH_URL, params)

    assert [store.pk for store in response.context["stores"]] == [wanted.pk]


def test_search_paginates_and_keeps_the_filters(client, cities):
    merchant = MerchantFactory()
    Store.objects.bulk_create(
        Store(
            merchant=merchant,
            city=cities[0],
            category=merchant.category,
            name=f"Shop {i:02d}",
            address="x",
            latitude=31.23,
            longitude=121.47,
            is_published=True,
            search_text=f"shop {i:02d}",
        )
        for i in range(45)
    )

    first = client.get(SEARCH_URL, {"q": "shop"}, HTTP_ACCEPT_LANGUAGE="en")
    third = client.get(SEARCH_URL, {"q": "shop", "page": "3"})
    beyond = client.get(SEARCH_URL, {"q": "shop", "page": "99"})
    junk = client.get(SEARCH_URL, {"q": "shop", "page": "abc"})

    assert len(first.context["stores"]) == 20
    assert "?q=shop&amp;page=2" in first.content.decode()
    assert len(third.context["stores"]) == 5
    assert beyond.context["page_obj"].number == 3
    assert junk.context["page_obj"].number == 1


def test_search_remembers_the_searched_city(client, cities):
    client.get(SEARCH_URL, {"city": "hangzhou"})

    assert client.get("/").context["current_city"].slug == "hangzhou"


def test_search_page_runs_a_fixed_number_of_queries(client, cities):
    def queries_for(number_of_stores):
        Store.objects.all().delete()
        merchant = MerchantFactory()
        for _ in range(number_of_stores):
            add_photo(always_open(StoreFactory(merchant=merchant)), cover=True)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(
                SEARCH_URL,
                {"lat": "31.2304", "lng": "121.4737", "radius_km": "3", "city": "shanghai", "open_now": "true"},
            )
        assert response.status_code == 200
        assert len(response.context["stores"]) == min(number_of_stores, 20)
        return len(queries)

    assert queries_for(3) == queries_for(30)


# --- store page -------------------------------------------------------------------------------


def test_store_page_shows_hours_closures_and_placeholders(client, cities):
    store = StoreFactory(name="海底捞", address="1 People's Square", phone="021-1234", avg_price=Decimal("95.00"))
    StoreHours.objects.filter(store=store).delete()
    StoreHours.objects.bulk_create(
        [
            StoreHours(store=store, weekday=0, opens=dt.time(11), closes=dt.time(14)),
            StoreHours(store=store, weekday=0, opens=dt.time(17), closes=dt.time(2)),
        ]
    )
    closure = StoreClosedDate.objects.create(store=store, date=dt.date.today() + dt.timedelta(days=5), note="Holiday")
    StoreClosedDate.objects.create(store=store, date=dt.date.today() - dt.timedelta(days=20), note="Long gone")
    add_photo(store, position=1)
    add_photo(store, cover=True, position=3)

    response = client.get(store.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert response.status_code == 200
    assert "1 People&#x27;s Square" in html
    assert 'href="tel:021-1234"' in html
    assert "¥95/person" in html
    assert '11:00–14:00, 17:00–02:00 <span class="muted small">(next day)</span>' in html
    assert html.count("Closed</span>") == 6  # Tuesday to Sunday
    assert "Holiday" in html and "Long gone" not in html
    assert closure.date.strftime("%Y") in html
    assert html.index(f"thumbs/{store.pk}-3.jpg") < html.index(f"thumbs/{store.pk}-1.jpg")  # cover first
    for section in ("services", "deals", "coupons", "reviews"):
        assert f'id="{section}"' in html
    assert "No reviews yet." in html
    assert response.context["is_open_now"] == store.is_open_now


def test_store_page_says_open_or_closed_now(client, cities):
    open_store = always_open(StoreFactory())
    closed_store = never_open(StoreFactory())

    assert "Open now" in client.get(open_store.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Closed now" in client.get(closed_store.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_store_page_shows_the_distance_when_the_point_is_given(client, cities):
    store = StoreFactory(latitude=31.2304, longitude=121.4737)

    near = client.get(store.get_absolute_url(), {"lat": "31.2404", "lng": "121.4737"}, HTTP_ACCEPT_LANGUAGE="en")
    bad = client.get(store.get_absolute_url(), {"lat": "north", "lng": "121.4737"})

    assert near.context["distance_km"] == pytest.approx(1.112, abs=0.001)
    assert "1.1 km" in near.content.decode()
    assert bad.status_code == 200
    assert bad.context["distance_km"] is None


def test_unpublished_store_is_404(client, cities):
    store = StoreFactory(is_published=False)

    assert client.get(store.get_absolute_url()).status_code == 404


def test_unknown_store_is_404(client):
    assert client.get(reverse("merchants:store", args=[424242])).status_code == 404


def test_suspended_merchants_store_is_404_with_an_explanation(client, cities):
    store = StoreFactory(merchant=MerchantFactory(status=Merchant.Status.SUSPENDED), name="Shut Shop")

    response = client.get(store.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Shut Shop" in html
    assert "its merchant is suspended" in html


def test_store_page_query_count_does_not_grow_with_photos(client, cities):
    store = StoreFactory()
    add_photo(store, cover=True)
    with CaptureQueriesContext(connection) as one_photo:
        client.get(store.get_absolute_url())
    for position in range(1, 12):
        add_photo(store, position=position)
    with CaptureQueriesContext(connection) as many_photos:
        client.get(store.get_absolute_url())

    assert len(many_photos) == len(one_photo)
