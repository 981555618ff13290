"""A merchant's "bookings of the day" cuts each store's day in that store's own time zone."""

import datetime as dt
import zoneinfo

import pytest

from orders.selectors import bookings_on_local_day
from tests.factories.catalogue import NOW, ServiceFactory, booking_order
from tests.factories.merchants import CityFactory, MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def test_a_late_evening_booking_in_new_york_belongs_to_new_yorks_day(user_factory, api_client):
    city = CityFactory(
        slug="new-york", name="纽约", name_en="New York", latitude=40.7, longitude=-74.0, timezone="America/New_York"
    )
    member = MemberFactory()
    store = StoreFactory(merchant=member.merchant, city=city)
    service = ServiceFactory(store=store, weekly=[(day, "22:00", "23:00", 60) for day in range(7)])
    start = dt.datetime(2030, 6, 4, 23, 0, tzinfo=NEW_YORK)  # 5 June, 11:00 in Shanghai
    order = booking_order(user_factory(), service, start, party_size=1, now=NOW)

    assert [b.order_id for b in bookings_on_local_day(member.merchant, [store], dt.date(2030, 6, 4))] == [order.pk]
    assert not bookings_on_local_day(member.merchant, [store], dt.date(2030, 6, 5)).exists()

    api_client.force_authenticate(member.user)
    body = api_client.get("/api/v1/merchant/bookings/", {"date": "2030-06-04"}).json()
    assert [row["order"] for row in body["results"]] == [order.pk]
