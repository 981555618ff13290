"""The bookings pages of the merchant console: the day's list and calendar, check-in, no-show,
cancellation by the merchant, and the cancellation policies page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from merchants.models import CancellationPolicy, MerchantMember, Service
from orders.models import Order
from payments import services as payment_services
from payments.gateways.sandbox import build_notification, sandbox_complete_charge
from payments.models import Refund, SandboxCharge
from tests.factories.catalogue import ServiceFactory, booking_order
from tests.factories.merchants import MemberFactory, MerchantFactory, StoreFactory

pytestmark = pytest.mark.django_db

OWNER, MANAGER, CLERK = MerchantMember.Role.OWNER, MerchantMember.Role.MANAGER, MerchantMember.Role.CLERK
EVERY_HOUR = [(weekday, "00:00", "23:00", 60) for weekday in range(7)]


def local_today(store):
    return timezone.now().astimezone(store.tzinfo).date()


def at(store, day, hour):
    return dt.datetime.combine(day, dt.time(hour), tzinfo=store.tzinfo)


def pay(order, *, now):
    """What the consumer's payment through the sandbox gateway does, notification included."""
    payment, _url = payment_services.payment_start(
        order=order, user=order.user, build_url=lambda path: f"http://testserver{path}", now=now
    )
    charge = SandboxCharge.objects.get(merchant_reference=payment.reference)
    sandbox_complete_charge(charge, succeed=True)
    body, headers = build_notification(charge, kind="payment.succeeded")
    payment_services.notification_receive(gateway_name="sandbox", body=body, headers=headers, now=now)
    order.refresh_from_db()
    return order


def book(user, service, start, party_size=2, *, note=""):
    """A confirmed booking, made a day before its start (a start in the past is allowed then), or now."""
    made_at = min(timezone.now(), start - dt.timedelta(days=1))
    order = booking_order(user, service, start, party_size, now=made_at)
    if order.status == Order.Status.PENDING_PAYMENT:
        pay(order, now=made_at)
    if note:
        order.booking.note = note
        order.booking.save(update_fields=["note"])
    order.refresh_from_db()
    return order


@pytest.fixture
def merchant():
    return MerchantFactory(name="Golden Wok", commission_rate=Decimal("0.0600"))


@pytest.fixture
def store(merchant):
    return StoreFactory(merchant=merchant, name="Golden Wok Bund")


@pytest.fixture
def service(store):
    """A table paid in store: nothing prepaid, so no refund is due."""
    return ServiceFactory(
        store=store, name="Table for four", weekly=EVERY_HOUR, prepayment=Service.Prepayment.NONE, capacity=5
    )


@pytest.fixture
def console(client, merchant):
    def make(role=OWNER, **kwargs):
        member = MemberFactory(merchant=merchant, role=role, **kwargs)
        client.force_login(member.user)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return make


@pytest.fixture
def guest(user_factory):
    return user_factory(username="nancy", display_name="Nancy")


@pytest.fixture
def started(store, service, guest):
    """Today's midnight booking: today in the store, and already started."""
    return book(guest, service, at(store, local_today(store), 0), 3, note="Baby chair please")


@pytest.fixture
def tomorrow(store, service, guest):
    return book(guest, service, at(store, local_today(store) + dt.timedelta(days=1), 12), 2)


def page(response):
    return response.content.decode()


def status_of(order):
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


# --- the day's bookings ------------------------------------------------------------------------------


def test_todays_bookings_are_listed_with_the_day_calendar(console, started, tomorrow):
    response = console().get("/merchant/bookings/")

    assert response.status_code == 200
    html = page(response)
    assert "N***y" in html  # the customer's name is masked
    assert "Baby chair please" in html
    assert "3 guests" in html
    assert "Confirmed" in html
    assert "Day at a glance" in html
    assert f"booking-{started.booking.pk}" in html
    assert f"booking-{tomorrow.booking.pk}" not in html


def test_the_date_picker_shows_another_day(console, store, started, tomorrow):
    day = local_today(store) + dt.timedelta(days=1)
    html = page(console().get(f"/merchant/bookings/?date={day.isoformat()}"))
    assert f"booking-{tomorrow.booking.pk}" in html
    assert f"booking-{started.booking.pk}" not in html


@pytest.mark.parametrize("query", ["date=2030-02-30", "date=yesterday", "store=abc", "store=999999"])
def test_a_bad_filter_is_a_message_not_a_500(console, started, query):
    response = console().get(f"/merchant/bookings/?{query}")
    assert response.status_code == 400
    assert "Showing today instead." in page(response)
    assert f"booking-{started.booking.pk}" in page(response)


def test_a_day_without_bookings_says_so(console, store):
    response = console().get("/merchant/bookings/?date=2031-01-01")
    assert "No bookings on this day." in page(response)


def test_the_store_filter_narrows_the_list(console, merchant, store, started):
    other = StoreFactory(merchant=merchant, name="Golden Wok Pudong")
    response = console().get(f"/merchant/bookings/?store={other.pk}")
    assert f"booking-{started.booking.pk}" not in page(response)
    response = console().get(f"/merchant/bookings/?store={store.pk}")
    assert f"booking-{started.booking.pk}" in page(response)


# --- check-in -------------------------------------------------------------------------------------


def test_a_clerk_sees_bookings_and_checks_a_guest_in(console, store, started):
    client = console(CLERK)

    assert client.get("/merchant/bookings/").status_code == 200
    response = client.post(
        f"/merchant/bookings/{started.booking.pk}/check-in/", {"date": local_today(store).isoformat()}, follow=True
    )

    assert status_of(started) == Order.Status.CHECKED_IN
    assert "is checked in." in page(response)
    assert response.redirect_chain[-1][0].endswith(f"?date={local_today(store).isoformat()}")


def test_a_booking_of_another_day_cannot_be_checked_in_yet(console, tomorrow):
    response = console(CLERK).post(f"/merchant/bookings/{tomorrow.booking.pk}/check-in/", follow=True)
    assert status_of(tomorrow) == Order.Status.CONFIRMED
    assert "check the guests in when they arrive that day" in page(response)


def test_a_clerk_of_one_store_sees_and_checks_in_only_there(console, merchant, store, started):
    other = StoreFactory(merchant=merchant, name="Golden Wok Pudong")
    client = console(CLERK)
    MerchantMember.objects.get(role=CLERK).stores.set([other])

    assert f"booking-{started.booking.pk}" not in page(client.get("/merchant/bookings/"))
    assert client.post(f"/merchant/bookings/{started.booking.pk}/check-in/").status_code == 404
    assert status_of(started) == Order.Status.CONFIRMED


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/merchant/bookings/{pk}/no-show/"),
        ("get", "/merchant/bookings/{pk}/cancel/"),
        ("post", "/merchant/bookings/{pk}/cancel/"),
        ("get", "/merchant/policies/"),
    ],
)
def test_clerks_cannot_mark_no_shows_cancel_or_open_policies(console, started, method, url):
    client = console(CLERK)
    response = getattr(client, method)(url.format(pk=started.booking.pk), {"reason": "Closed"})
    assert response.status_code == 403
    assert status_of(started) == Order.Status.CONFIRMED


# --- no-show ------------------------------------------------------------------------------------------


def test_a_no_show_before_the_start_is_refused(console, tomorrow):
    response = console(MANAGER).post(f"/merchant/bookings/{tomorrow.booking.pk}/no-show/", follow=True)
    assert status_of(tomorrow) == Order.Status.CONFIRMED
    assert "A booking can be marked no-show only after its start time." in page(response)


def test_a_no_show_after_the_start_keeps_the_fee_and_refunds_the_rest(console, store, guest):
    prepaid = ServiceFactory(store=store, weekly=EVERY_HOUR, price=Decimal("200.00"))  # fair: no-show 30 %
    order = book(guest, prepaid, at(store, local_today(store), 0))

    response = console(MANAGER).post(f"/merchant/bookings/{order.booking.pk}/no-show/", follow=True)

    assert status_of(order) == Order.Status.NO_SHOW
    assert "¥60.00 of the prepaid ¥200.00 is kept" in page(response)
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.reason) == (Decimal("140.00"), Refund.Reason.NO_SHOW)


# --- cancellation by the merchant ------------------------------------------------------------------------


def test_a_manager_cancels_with_a_reason_and_the_prepayment_goes_back(console, store, guest):
    prepaid = ServiceFactory(
        store=store, weekly=EVERY_HOUR, price=Decimal("300.00"), cancellation_policy=CancellationPolicy.STRICT
    )
    order = book(guest, prepaid, at(store, local_today(store) + dt.timedelta(days=1), 19))
    client = console(MANAGER)

    confirm = client.get(f"/merchant/bookings/{order.booking.pk}/cancel/")
    assert confirm.status_code == 200
    assert "gets the prepaid ¥300.00 back in full" in page(confirm)
    response = client.post(
        f"/merchant/bookings/{order.booking.pk}/cancel/", {"reason": "Kitchen closed for repairs"}, follow=True
    )

    assert status_of(order) == Order.Status.CANCELLED_BY_MERCHANT
    assert order.events.last().note == "Kitchen closed for repairs"
    assert "is cancelled; the prepaid ¥300.00 goes back in full" in page(response)
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.reason) == (Decimal("300.00"), Refund.Reason.MERCHANT_CANCELLED)


@pytest.mark.parametrize("reason", ["", "    "])
def test_a_cancellation_without_a_reason_is_refused(console, tomorrow, reason):
    response = console(MANAGER).post(f"/merchant/bookings/{tomorrow.booking.pk}/cancel/", {"reason": reason})
    assert response.status_code == 400
    assert "This field is required." in page(response) or "Tell the customer why." in page(response)
    assert status_of(tomorrow) == Order.Status.CONFIRMED


def test_a_cancelled_booking_cannot_be_cancelled_again(console, tomorrow):
    client = console(MANAGER)
    client.post(f"/merchant/bookings/{tomorrow.booking.pk}/cancel/", {"reason": "Closed"})

    again = client.post(f"/merchant/bookings/{tomorrow.booking.pk}/cancel/", {"reason": "Closed"})

    assert again.status_code == 400
    assert "cannot become" in page(again)
    assert "only a confirmed booking can be cancelled" in page(
        client.get(f"/merchant/bookings/{tomorrow.booking.pk}/cancel/")
    )


# --- another merchant's bookings ------------------------------------------------------------------------


def test_another_merchants_booking_is_a_404_for_every_action(console, started, user_factory):
    theirs = ServiceFactory(weekly=EVERY_HOUR, prepayment=Service.Prepayment.NONE)
    b_order = book(user_factory(display_name="Bob"), theirs, at(theirs.store, local_today(theirs.store), 0))
    pk = b_order.booking.pk
    client = console()

    assert client.post(f"/merchant/bookings/{pk}/check-in/").status_code == 404
    assert client.post(f"/merchant/bookings/{pk}/no-show/").status_code == 404
    assert client.get(f"/merchant/bookings/{pk}/cancel/").status_code == 404
    assert client.post(f"/merchant/bookings/{pk}/cancel/", {"reason": "Mine now"}).status_code == 404
    assert status_of(b_order) == Order.Status.CONFIRMED
    assert f"booking-{pk}" not in page(client.get("/merchant/bookings/"))
    assert f"booking-{pk}" not in page(client.get(f"/merchant/bookings/?store={theirs.store.pk}"))


# --- policies -------------------------------------------------------------------------------------------


def test_policies_show_the_rates_the_merchant_gets_and_the_services_using_them(console, service):
    response = console(MANAGER).get("/merchant/policies/")

    assert response.status_code == 200
    html = page(response)
    assert "free cancellation until 24 h before; later 10 % of the prepaid amount is kept; no-show 30 %" in html
    assert "50 %" in html and "100 %" in html
    # Fair, ¥100 prepaid, 6 % commission: late fee ¥10 → ¥9.40, no-show ¥30 → ¥28.20.
    assert "late cancellation ¥9.40; no-show ¥28.20" in html
    assert "Table for four" in html
