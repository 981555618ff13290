"""A deal that needs an appointment: its voucher books a slot (nothing to pay), the booking
moves without losing the old slot until the new one is taken, and using the voucher at the
visit checks the appointment in."""

import datetime as dt

import pytest

from o2o.errors import Conflict, Invalid
from orders import services
from orders.models import Order, SlotLoad
from tests.factories.catalogue import DealFactory, ServiceFactory
from tests.factories.payments import paid_deal_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(user_factory):
    service = ServiceFactory(capacity=1, name="Massage room")
    deal = DealFactory(store=service.store, needs_appointment=True, appointment_service=service)
    buyer = user_factory()
    order = paid_deal_order(buyer, deal, quantity=1)
    voucher = order.vouchers.get()
    tz = service.store.tzinfo
    tomorrow = (dt.datetime.now(tz) + dt.timedelta(days=1)).date()
    at = lambda hour: dt.datetime.combine(tomorrow, dt.time(hour), tzinfo=tz)  # noqa: E731
    return service, buyer, voucher, at


def test_a_voucher_books_its_appointment_without_paying(setup):
    service, buyer, voucher, at = setup
    order = services.order_create_for_appointment(user=buyer, voucher_id=voucher.pk, start=at(11), party_size=1)
    assert order.status == Order.Status.CONFIRMED and order.total == 0
    assert order.booking.voucher == voucher
    assert SlotLoad.objects.get(service=service, start=at(11)).taken == 1


def test_a_voucher_has_one_live_appointment(setup):
    _service, buyer, voucher, at = setup
    services.order_create_for_appointment(user=buyer, voucher_id=voucher.pk, start=at(11), party_size=1)
    with pytest.raises(Conflict) as refused:
        services.order_create_for_appointment(user=buyer, voucher_id=voucher.pk, start=at(12), party_size=1)
    assert refused.value.code == "already_booked"


def test_someone_elses_voucher_or_one_without_appointments_is_refused(setup, user_factory):
    _service, _buyer, voucher, at = setup
    with pytest.raises(Exception) as refused:
        services.order_create_for_appointment(user=user_factory(), voucher_id=voucher.pk, start=at(11), party_size=1)
    assert refused.value.code == "unknown_voucher"
    plain = paid_deal_order(voucher.user, DealFactory()).vouchers.get()
    with pytest.raises(Invalid):
        services.order_create_for_appointment(user=voucher.user, voucher_id=plain.pk, start=at(11), party_size=1)


def test_moving_the_appointment_frees_the_old_slot_only_when_the_new_one_is_taken(setup, user_factory):
    service, buyer, voucher, at = setup
    order = services.order_create_for_appointment(user=buyer, voucher_id=voucher.pk, start=at(11), party_size=1)
    other = services.order_create_for_booking(user=user_factory(), service_id=service.pk, start=at(14), party_size=1)
    assert other.status == Order.Status.PENDING_PAYMENT

    with pytest.raises(Conflict):  # 14:00 is full: the 11:00 place is kept
        services.booking_reschedule(order=order, actor=buyer, start=at(14))
    assert SlotLoad.objects.get(service=service, start=at(11)).taken == 1

    services.booking_reschedule(order=order, actor=buyer, start=at(15))
    assert SlotLoad.objects.get(service=service, start=at(11)).taken == 0
    assert SlotLoad.objects.get(service=service, start=at(15)).taken == 1


def test_reschedule_api_moves_the_booking(setup, api_client):
    _service, buyer, voucher, at = setup
    order = services.order_create_for_appointment(user=buyer, voucher_id=voucher.pk, start=at(11), party_size=1)
    api_client.force_authenticate(buyer)
    response = api_client.post(f"/api/v1/orders/{order.pk}/reschedule/", {"start": at(16).isoformat()}, format="json")
    assert response.status_code == 200
    assert response.json()["booking"]["start"].startswith(at(16).date().isoformat())
    bad = api_client.post(f"/api/v1/orders/{order.pk}/reschedule/", {"start": "tomorrow"}, format="json")
    assert bad.status_code == 400


def test_appointment_through_the_orders_api(setup, api_client):
    _service, buyer, voucher, at = setup
    api_client.force_authenticate(buyer)
    response = api_client.post(
        "/api/v1/orders/", {"voucher": voucher.pk, "start": at(12).isoformat(), "party_size": 1}, format="json"
    )
    assert response.status_code == 201 and response.json()["status"] == "confirmed"


def test_appointment_page_flow(setup, client):
    service, buyer, voucher, at = setup
    client.force_login(buyer)
    detail = client.get(voucher.order.get_absolute_url()).content.decode()
    assert f"/book/{service.pk}/?voucher={voucher.pk}" in detail
    url = f"/checkout/booking/{service.pk}/?start={at(13).isoformat()}&party_size=1&voucher={voucher.pk}"
    assert "Covered by your voucher" in client.get(url.replace("+", "%2B")).content.decode()
    response = client.post(
        f"/checkout/booking/{service.pk}/", {"start": at(13).isoformat(), "party_size": 1, "voucher": voucher.pk}
    )
    assert response.status_code == 302
    assert Order.objects.get(user=buyer, kind="booking").booking.voucher == voucher
