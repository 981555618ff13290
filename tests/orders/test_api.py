"""The orders API (DESIGN §10): creating, listing and cancelling orders, availability, and the
merchant's bookings with their actions, each scoped to who is asking."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from merchants.models import MerchantMember
from orders.models import Booking, Order
from payments.models import Refund
from tests.factories.catalogue import (
    DealFactory,
    ServiceFactory,
    at_day,
    booking_order,
    deal_order,
    pay_through_gateway,
)
from tests.factories.merchants import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def client_for(user):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def tomorrow_at(hour):
    return at_day(timezone.now(), 1, hour)


@pytest.fixture
def consumer(user_factory):
    return user_factory(username="alice")


@pytest.fixture
def alice(consumer):
    return client_for(consumer)


# --- POST /orders/ ---------------------------------------------------------------------------


def test_post_a_deal_order_answers_201_with_the_contract_fields(alice, consumer):
    deal = DealFactory(price=Decimal("88.00"), stock=5)
    before = timezone.now()

    response = alice.post(ORDERS, {"deal": deal.pk, "quantity": 2}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {"id", "number", "kind", "status", "total", "payment_deadline"} <= set(body)
    order = Order.objects.get(pk=body["id"])
    assert order.user == consumer
    assert body["number"] == order.number
    assert (body["kind"], body["status"]) == ("deal", "pending_payment")
    assert Decimal(body["total"]) == Decimal("176.00")
    deadline = parse_datetime(body["payment_deadline"])
    assert before + dt.timedelta(minutes=15) <= deadline <= timezone.now() + dt.timedelta(minutes=15)
    deal.refresh_from_db()
    assert deal.units_taken == 2


def test_post_a_booking_answers_201_with_the_contract_fields(alice, consumer):
    service = ServiceFactory(price=Decimal("150.00"))
    start = tomorrow_at(12)

    response = alice.post(
        ORDERS, {"service": service.pk, "start": start.isoformat(), "party_size": 2, "note": "birthday"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["status"], Decimal(body["total"])) == ("booking", "pending_payment", Decimal("150.00"))
    booking = Booking.objects.get(order_id=body["id"])
    assert (booking.start, booking.party_size, booking.note) == (start, 2, "birthday")
    assert booking.order.user == consumer


def test_post_with_a_token_works_like_a_session(consumer):
    token = Token.objects.create(user=consumer)
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.post(ORDERS, {"deal": DealFactory().pk, "quantity": 1}, format="json")

    assert response.status_code == 201
    assert Order.objects.get().user == consumer


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"deal": "DEAL"}, "quantity"),  # missing quantity
        ({"deal": "DEAL", "quantity": 0}, "quantity"),
        ({"deal": "DEAL", "quantity": 10**6}, "quantity"),
        ({"deal": "DEAL", "quantity": True}, "quantity"),
        ({"deal": "DEAL", "quantity": "two"}, "quantity"),
        ({"deal": "DEAL", "quantity": 1.5}, "quantity"),
        ({"deal": "abc", "quantity": 1}, "deal"),
        ({"deal": "DEAL", "quantity": 1, "service": "SERVICE"}, "non_field_errors"),  # both
        ({}, "non_field_errors"),  # neither
        ({"service": "SERVICE", "start": "tomorrow at noon", "party_size": 2}, "start"),
        ({"service": "SERVICE", "start": "START", "party_size": "abc"}, "party_size"),
        ({"service": "SERVICE", "start": "START"}, "party_size"),
        ({"service": "SERVICE", "party_size": 2}, "start"),
    ],
)
def test_malformed_input_is_400_with_field_errors_and_creates_nothing(alice, payload, field):
    deal, service = DealFactory(), ServiceFactory()
    values = {"DEAL": deal.pk, "SERVICE": service.pk, "START": tomorrow_at(12).isoformat()}
    payload = {k: values.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}

    response = alice.post(ORDERS, payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert field in body["errors"], body
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("start", "code"),
    [
        ("SLOT+15", "not_a_slot"),
        ("PAST", "slot_in_past"),
        ("FAR", "beyond_window"),
    ],
)
def test_a_start_that_cannot_be_booked_is_400_with_its_code(alice, start, code):
    service = ServiceFactory(booking_window_days=14)
    starts = {
        "SLOT+15": tomorrow_at(12) + dt.timedelta(minutes=15),
        "PAST": tomorrow_at(12) - dt.timedelta(days=2),
        "FAR": tomorrow_at(12) + dt.timedelta(days=20),
    }

    response = alice.post(
        ORDERS, {"service": service.pk, "start": starts[start].isoformat(), "party_size": 2}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert "start" in response.json()["errors"]


def test_a_party_size_out_of_range_is_400(alice):
    service = ServiceFactory(max_party=4)

    response = alice.post(
        ORDERS, {"service": service.pk, "start": tomorrow_at(12).isoformat(), "party_size": 9}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "bad_party_size"


def test_sold_out_is_409_with_its_code(alice, user_factory):
    deal = DealFactory(stock=1)
    deal_order(user_factory(), deal)

    response = alice.post(ORDERS, {"deal": deal.pk, "quantity": 1}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "sold_out"
    assert body["errors"] == {"deal": [body["detail"]]}
    assert Order.objects.count() == 1


def test_over_the_per_user_limit_is_409_limit_reached(alice, consumer):
    deal = DealFactory(per_user_limit=2)
    deal_order(consumer, deal, 2)

    response = alice.post(ORDERS, {"deal": deal.pk, "quantity": 1}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "limit_reached"


def test_a_full_slot_is_409_slot_full(alice, user_factory):
    service = ServiceFactory(capacity=1)
    booking_order(user_factory(), service, tomorrow_at(12))

    response = alice.post(
        ORDERS, {"service": service.pk, "start": tomorrow_at(12).isoformat(), "party_size": 2}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "slot_full"


def test_an_unknown_deal_is_404(alice):
    response = alice.post(ORDERS, {"deal": 987654, "quantity": 1}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_deal"


def test_a_deal_whose_sale_ended_is_410(alice):
    deal = DealFactory(sale_ends=timezone.now() - dt.timedelta(minutes=1))

    response = alice.post(ORDERS, {"deal": deal.pk, "quantity": 1}, format="json")

    assert response.status_code == 410
    assert response.json()["code"] == "sale_ended"


def test_anonymous_cannot_order_or_list(api_client):
    deal = DealFactory()

    assert api_client.post(ORDERS, {"deal": deal.pk, "quantity": 1}, format="json").status_code in (401, 403)
    assert api_client.get(ORDERS).status_code in (401, 403)
    assert not Order.objects.exists()


# --- GET /orders/, /orders/{id}/ --------------------------------------------------------------


def test_the_list_shows_only_my_orders_newest_first(alice, consumer, user_factory):
    deal = DealFactory(stock=None)
    older = deal_order(consumer, deal, now=timezone.now() - dt.timedelta(minutes=5))
    newer = deal_order(consumer, deal)
    deal_order(user_factory(), deal)

    response = alice.get(ORDERS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert {"next", "previous"} <= set(body)
    assert [o["id"] for o in body["results"]] == [newer.pk, older.pk]
    assert body["results"][0]["items"][0]["quantity"] == 1


def test_detail_of_my_booking_shows_the_booking(alice, consumer):
    order = booking_order(consumer, ServiceFactory(), tomorrow_at(15), party_size=3)

    response = alice.get(f"{ORDERS}{order.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["number"] == order.number
    assert body["booking"]["party_size"] == 3
    assert parse_datetime(body["booking"]["start"]) == tomorrow_at(15)


def test_another_users_order_is_404(alice, user_factory):
    theirs = deal_order(user_factory(), DealFactory())

    assert alice.get(f"{ORDERS}{theirs.pk}/").status_code == 404
    assert alice.post(f"{ORDERS}{theirs.pk}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Order.Status.PENDING_PAYMENT


# --- POST /orders/{id}/cancel/ ----------------------------------------------------------------


def test_cancel_an_unpaid_order_releases_its_stock_and_repeating_it_is_harmless(alice, consumer):
    deal = DealFactory(stock=3)
    order = deal_order(consumer, deal, 2)

    first = alice.post(f"{ORDERS}{order.pk}/cancel/")
    again = alice.post(f"{ORDERS}{order.pk}/cancel/")

    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    deal.refresh_from_db()
    assert deal.units_taken == 0
    assert order.events.filter(to_status=Order.Status.CANCELLED).count() == 1


def test_cancel_a_confirmed_booking_follows_its_policy_and_refunds_once(alice, consumer):
    service = ServiceFactory(price=Decimal("100.00"))
    order = pay_through_gateway(booking_order(consumer, service, at_day(timezone.now(), 3, 12)))

    response = alice.post(f"{ORDERS}{order.pk}/cancel/")
    again = alice.post(f"{ORDERS}{order.pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled_by_consumer"
    assert response.json()["booking"]["fee_kept"] == "0.00"  # more than 24 hours ahead: free
    assert again.status_code == 409
    assert again.json()["code"] == "illegal_transition"
    assert order.events.filter(to_status=Order.Status.CANCELLED_BY_CONSUMER).count() == 1
    assert [r.amount for r in Refund.objects.filter(order=order)] == [Decimal("100.00")]


def test_cancel_an_unpaid_booking_frees_its_slot(alice, consumer):
    service = ServiceFactory(capacity=1)
    order = booking_order(consumer, service, tomorrow_at(12))

    response = alice.post(f"{ORDERS}{order.pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert booking_order(consumer, service, tomorrow_at(12)).status == Order.Status.PENDING_PAYMENT


def test_cancel_a_paid_deal_order_is_refused(alice, consumer):
    order = pay_through_gateway(deal_order(consumer, DealFactory()))

    response = alice.post(f"{ORDERS}{order.pk}/cancel/")

    assert response.status_code == 409
    assert response.json()["code"] == "not_pending"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


# --- GET /stores/{id}/availability/ -----------------------------------------------------------


def availability_url(store):
    return f"/api/v1/stores/{store.pk}/availability/"


def test_availability_lists_slots_with_remaining_places(api_client, user_factory):
    service = ServiceFactory(weekly=[(d, "12:00", "14:00", 60) for d in range(7)], capacity=2)
    booking_order(user_factory(), service, tomorrow_at(13))

    response = api_client.get(
        availability_url(service.store), {"service": service.pk, "date": tomorrow_at(0).date().isoformat()}
    )

    assert response.status_code == 200
    assert [(parse_datetime(s["start"]), s["remaining"]) for s in response.json()] == [
        (tomorrow_at(12), 2),
        (tomorrow_at(13), 1),
        (tomorrow_at(14), 2),
    ]
    assert parse_datetime(response.json()[0]["end"]) == tomorrow_at(13)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"service": "SERVICE"},
        {"date": "DATE"},
        {"service": "abc", "date": "DATE"},
        {"service": "SERVICE", "date": "2030-02-30"},
    ],
)
def test_availability_with_bad_parameters_is_400(api_client, params):
    service = ServiceFactory()
    values = {"SERVICE": service.pk, "DATE": tomorrow_at(0).date().isoformat()}

    response = api_client.get(availability_url(service.store), {k: values.get(v, v) for k, v in params.items()})

    assert response.status_code == 400
    assert response.json()["errors"]


def test_availability_of_a_service_of_another_store_or_unknown_is_400(api_client):
    service = ServiceFactory()
    other_store = StoreFactory()
    date = tomorrow_at(0).date().isoformat()

    for store, service_id in ((other_store, service.pk), (service.store, 999_999)):
        response = api_client.get(availability_url(store), {"service": service_id, "date": date})
        assert response.status_code == 400
        assert response.json()["code"] == "unknown_service"


def test_availability_of_an_unpublished_store_is_404(api_client):
    service = ServiceFactory(store=StoreFactory(is_published=False))

    response = api_client.get(
        availability_url(service.store), {"service": service.pk, "date": tomorrow_at(0).date().isoformat()}
    )

    assert response.status_code == 404


# --- /merchant/bookings/ ------------------------------------------------------------------------


def paid_booking_today(consumer, service):
    """A booking for 10:00 today (store time), made and paid yesterday: staff can act on it."""
    yesterday = timezone.now() - dt.timedelta(days=1)
    return pay_through_gateway(booking_order(consumer, service, at_day(yesterday, 1, 10), now=yesterday), now=yesterday)


@pytest.fixture
def shop(user_factory):
    """A merchant with two stores, its owner and a clerk, and a paid booking today at each store."""
    owner = MemberFactory(role=MerchantMember.Role.OWNER)
    merchant = owner.merchant
    clerk = MemberFactory(merchant=merchant, role=MerchantMember.Role.CLERK)
    first, second = StoreFactory(merchant=merchant), StoreFactory(merchant=merchant)
    bookings = [paid_booking_today(user_factory(), ServiceFactory(store=store)).booking for store in (first, second)]
    return {"owner": owner, "clerk": clerk, "stores": (first, second), "bookings": bookings}


def today():
    return timezone.localdate().isoformat()


def merchant_bookings(client, **params):
    return client.get("/api/v1/merchant/bookings/", params)


def action(client, booking, name, data=None):
    return client.post(f"/api/v1/merchant/bookings/{booking.pk}/{name}/", data or {}, format="json")


def test_owner_lists_the_bookings_of_the_day_at_every_store(shop):
    owner = client_for(shop["owner"].user)

    on_the_day = merchant_bookings(owner, date=today())
    by_default = merchant_bookings(owner)
    tomorrow = merchant_bookings(owner, date=tomorrow_at(0).date().isoformat())

    assert on_the_day.status_code == 200
    assert sorted(b["id"] for b in on_the_day.json()["results"]) == sorted(b.pk for b in shop["bookings"])
    assert on_the_day.json()["results"][0]["status"] == "confirmed"
    assert by_default.json()["count"] == 2
    assert tomorrow.json()["count"] == 0


def test_owner_can_narrow_the_list_to_one_store_and_not_to_anothers(shop):
    owner = client_for(shop["owner"].user)
    response = merchant_bookings(owner, date=today(), store=shop["stores"][1].pk)
    foreign = merchant_bookings(owner, date=today(), store=StoreFactory().pk)

    assert [b["id"] for b in response.json()["results"]] == [shop["bookings"][1].pk]
    assert foreign.status_code == 400


def test_a_clerk_bound_to_one_store_sees_only_that_store(shop):
    clerk = shop["clerk"]
    clerk.stores.add(shop["stores"][0])

    response = merchant_bookings(client_for(clerk.user), date=today())

    assert [b["id"] for b in response.json()["results"]] == [shop["bookings"][0].pk]
    assert action(client_for(clerk.user), shop["bookings"][1], "check-in").status_code == 404


def test_another_merchants_owner_sees_nothing_and_gets_404_on_actions(shop):
    stranger = client_for(MemberFactory(role=MerchantMember.Role.OWNER).user)
    booking = shop["bookings"][0]

    listing = merchant_bookings(stranger, date=today())

    assert listing.status_code == 200
    assert listing.json()["count"] == 0
    for name, data in (("check-in", None), ("no-show", None), ("cancel", {"reason": "no"})):
        assert action(stranger, booking, name, data).status_code == 404, name
    booking.order.refresh_from_db()
    assert booking.order.status == Order.Status.CONFIRMED


def test_a_consumer_who_is_not_staff_is_refused(alice):
    assert merchant_bookings(alice).status_code == 403


@pytest.mark.parametrize("date", ["tomorrow", "2030-02-30", "2030-13-01"])
def test_a_bad_date_is_400(shop, date):
    response = merchant_bookings(client_for(shop["owner"].user), date=date)

    assert response.status_code == 400
    assert "date" in response.json()["errors"]


def test_clerk_can_check_in_but_not_mark_no_show_or_cancel(shop):
    clerk = client_for(shop["clerk"].user)
    first, second = shop["bookings"]

    checked_in = action(clerk, first, "check-in")
    no_show = action(clerk, second, "no-show")
    cancel = action(clerk, second, "cancel", {"reason": "Closed"})

    assert checked_in.status_code == 200
    assert checked_in.json()["status"] == "checked_in"
    assert checked_in.json()["checked_in_at"]
    assert (no_show.status_code, cancel.status_code) == (403, 403)
    second.order.refresh_from_db()
    assert second.order.status == Order.Status.CONFIRMED


def test_owner_cancels_with_a_reason_and_the_slot_is_free_again(shop):
    owner = client_for(shop["owner"].user)
    booking = shop["bookings"][0]

    without_reason = action(owner, booking, "cancel", {"reason": ""})
    with_reason = action(owner, booking, "cancel", {"reason": "Burst pipe"})

    assert without_reason.status_code == 400
    assert "reason" in without_reason.json()["errors"]
    assert with_reason.status_code == 200
    assert with_reason.json()["status"] == "cancelled_by_merchant"
    booking.order.refresh_from_db()
    assert booking.order.events.last().note == "Burst pipe"


def test_owner_marks_a_no_show_only_after_the_start(shop, user_factory):
    owner = client_for(shop["owner"].user)
    # a booking made two days ago for yesterday noon, and one for tomorrow
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    service = ServiceFactory(store=shop["stores"][0])
    past = pay_through_gateway(
        booking_order(user_factory(), service, at_day(two_days_ago, 1, 12), now=two_days_ago), now=two_days_ago
    ).booking

    upcoming = pay_through_gateway(booking_order(user_factory(), service, tomorrow_at(12))).booking

    done = action(owner, past, "no-show")
    early = action(owner, upcoming, "no-show")

    assert done.status_code == 200
    assert done.json()["status"] == "no_show"
    assert early.status_code == 409
    assert early.json()["code"] == "not_started"


def test_checking_in_a_cancelled_booking_is_409(shop):
    owner = client_for(shop["owner"].user)
    booking = shop["bookings"][0]
    action(owner, booking, "cancel", {"reason": "Closed"})

    response = action(owner, booking, "check-in")

    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
