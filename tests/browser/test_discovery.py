"""A consumer on a phone finds stores: by category, by keyword and near where they stand."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from merchants.models import StoreHours
from tests.factories.merchants import CategoryFactory, CityFactory, MerchantFactory, StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PEOPLES_SQUARE = {"latitude": 31.2305, "longitude": 121.4738}


def open_around_the_clock(store):
    StoreHours.objects.filter(store=store).delete()
    StoreHours.objects.bulk_create(
        StoreHours(store=store, weekday=d, opens=dt.time(0), closes=dt.time(0)) for d in range(7)
    )
    return store


@pytest.fixture
def stores():
    city = CityFactory(slug="shanghai")
    food = CategoryFactory(slug="food", name="美食", name_en="Food", icon="🍜", position=0)
    beauty = CategoryFactory(slug="beauty", name="丽人", name_en="Beauty", icon="💇", position=1)
    hotpot = StoreFactory(
        name="Haidilao Hotpot",
        merchant=MerchantFactory(name="Haidilao", category=food),
        city=city,
        latitude=31.2312,
        longitude=121.4746,
        address="1 People's Square",
        tags="hotpot, late night",
    )
    salon = StoreFactory(
        name="Tony Hair Salon",
        merchant=MerchantFactory(name="Tony", category=beauty),
        city=city,
        latitude=31.3000,
        longitude=121.5500,
        address="88 Wujiaochang",
    )
    return open_around_the_clock(hotpot), open_around_the_clock(salon)


def test_find_a_store_from_the_category_grid(live_server, page, stores):
    page.goto(f"{live_server.url}/")
    page.locator(".category-grid").get_by_role("link", name="Food").click()

    expect(page).to_have_url(re.compile(r"/search/\?category=food"))
    results = page.locator(".store-list")
    expect(results.get_by_text("Haidilao Hotpot")).to_be_visible()
    expect(results.get_by_text("Tony Hair Salon")).to_have_count(0)

    results.get_by_text("Haidilao Hotpot").click()
    expect(page.get_by_role("heading", name="Haidilao Hotpot")).to_be_visible()
    expect(page.locator("#open-state")).to_have_text("Open now")
    expect(page.locator("#reviews")).to_contain_text("No reviews yet.")


def test_find_a_store_by_keyword(live_server, page, stores):
    page.goto(f"{live_server.url}/")
    page.get_by_label("Keyword").fill("hair salon")
    page.get_by_role("button", name="Search").click()

    results = page.locator(".store-list")
    expect(results.get_by_text("Tony Hair Salon")).to_be_visible()
    expect(results.get_by_text("Haidilao Hotpot")).to_have_count(0)

    page.get_by_label("Keyword").fill("no such shop")
    page.get_by_role("button", name="Search").first.click()
    expect(page.get_by_text("No stores match your search.")).to_be_visible()
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator(".store-list").get_by_text("Tony Hair Salon")).to_be_visible()


def test_find_stores_near_me_with_the_location_button(live_server, browser, browser_context_args, stores):
    context = browser.new_context(**browser_context_args, geolocation=PEOPLES_SQUARE, permissions=["geolocation"])
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/")
        page.get_by_role("button", name="Use my location").click()

        expect(page).to_have_url(re.compile(r"/search/\?lat=31\.2305\d*&lng=121\.4738\d*&radius_km=3"))
        results = page.locator(".store-list")
        expect(results.get_by_text("Haidilao Hotpot")).to_be_visible()
        expect(results.locator(".distance").first).to_have_text(re.compile(r"^\s*\d+ m\s*$"))
        expect(results.get_by_text("Tony Hair Salon")).to_have_count(0)  # about 11 km away

        results.get_by_text("Haidilao Hotpot").click()
        expect(page.get_by_role("heading", name="Haidilao Hotpot")).to_be_visible()
        expect(page.locator(".store-head .distance")).to_contain_text("away")
    finally:
        context.close()


def test_location_refused_explains_what_to_do(live_server, browser, browser_context_args, stores):
    context = browser.new_context(**browser_context_args)  # no permission granted
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/")
        page.get_by_role("button", name="Use my location").click()
        expect(page.locator("#location-status")).to_contain_text("location is not available")
    finally:
        context.close()
