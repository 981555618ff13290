"""From the store page to a checkout: deals to buy, services to book, free times per day."""

from urllib.parse import parse_qs, urlparse

import pytest

from orders.models import Order
from tests.factories.catalogue import DealFactory, ServiceFactory
from tests.factories.merchants import StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return StoreFactory()


def test_store_page_lists_deals_and_services_with_their_actions(client, store):
    deal = DealFactory(store=store, title="Hotpot for two")
    service = ServiceFactory(store=store, name="Private room")
    page = client.get(store.get_absolute_url()).content.decode()
    assert "Hotpot for two" in page and f"/checkout/deal/{deal.pk}/" in page
    assert "Private room" in page and f"/book/{service.pk}/" in page


def test_a_sold_out_deal_shows_sold_out_instead_of_buy(client, store, user_factory):
    deal = DealFactory(store=store, stock=1)
    from orders.services import order_create_for_deal

    order_create_for_deal(user=user_factory(), deal_id=deal.pk, quantity=1)
    page = client.get(store.get_absolute_url()).content.decode()
    assert "Sold out" in page
    assert f"/checkout/deal/{deal.pk}/" not in page


def test_store_api_detail_lists_services_and_deals(api_client, store):
    deal = DealFactory(store=store, stock=10)
    service = ServiceFactory(store=store, capacity=3)
    body = api_client.get(f"/api/v1/stores/{store.pk}/").json()
    assert body["deals"][0]["id"] == deal.pk and body["deals"][0]["remaining"] == 10
    assert body["services"][0]["id"] == service.pk and body["services"][0]["capacity"] == 3
    assert body["services"][0]["duration_minutes"] == 60


def test_inactive_services_and_deals_are_not_offered(client, store):
    DealFactory(store=store, title="Hidden deal", is_active=False)
    ServiceFactory(store=store, name="Hidden service", is_active=False)
    page = client.get(store.get_absolute_url()).content.decode()
    assert "Hidden deal" not in page and "Hidden service" not in page


def test_booking_page_offers_free_times_and_leads_to_a_booking(client, store, user_factory):
    service = ServiceFactory(store=store, capacity=1)
    tomorrow = client.get(f"/book/{service.pk}/").context["days"][1]
    page = client.get(f"/book/{service.pk}/", {"date": tomorrow.isoformat(), "party_size": 2})
    slots = page.context["slots"]
    assert len(slots) == 11  # hourly 10:00 to 20:00
    link = page.content.decode().split('data-testid="slot" href="')[1].split('"')[0].replace("&amp;", "&")
    query = parse_qs(urlparse(link).query)
    assert query["party_size"] == ["2"]

    buyer = user_factory()
    client.force_login(buyer)
    checkout = client.get(link)
    assert checkout.status_code == 200
    response = client.post(link, {"start": query["start"][0], "party_size": 2, "note": ""})
    assert response.status_code == 302
    order = Order.objects.get(user=buyer)
    assert order.kind == "booking" and order.booking.party_size == 2

    again = client.get(f"/book/{service.pk}/", {"date": tomorrow.isoformat()})
    assert len(again.context["slots"]) == 10  # the booked hour is full now


def test_booking_page_falls_back_to_today_for_a_date_outside_the_window(client, store):
    service = ServiceFactory(store=store)
    page = client.get(f"/book/{service.pk}/", {"date": "2099-01-01", "party_size": "lots"})
    assert page.status_code == 200
    assert page.context["chosen"] == page.context["days"][0]
    assert page.context["party"] == service.min_party


def test_unpublished_store_services_cannot_be_booked(client):
    service = ServiceFactory(store=StoreFactory(is_published=False))
    assert client.get(f"/book/{service.pk}/").status_code == 404
