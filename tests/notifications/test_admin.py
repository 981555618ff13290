"""Operators can look at every message and delivery, filter and search, and change nothing."""

from decimal import Decimal

import pytest

from notifications import events
from notifications.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def note(zh_user):
    [note] = events.refund_done(
        consumer=zh_user, refund_id=1, order_number="N1", amount=Decimal("10.00"), link="/orders/"
    )
    return note


@pytest.mark.parametrize(
    "url",
    [
        "/admin/notifications/notification/",
        "/admin/notifications/notification/?kind=refund_done",
        "/admin/notifications/notification/?q=zh%40example.com",
        "/admin/notifications/delivery/",
        "/admin/notifications/delivery/?status__exact=pending&channel__exact=sms",
        "/admin/notifications/delivery/?q=13800000001",
    ],
)
def test_lists_filter_and_search(admin_client, note, url):
    response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


def test_a_notification_page_shows_its_deliveries_read_only(admin_client, note):
    response = admin_client.get(f"/admin/notifications/notification/{note.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "13800000001" in html and 'name="_save"' not in html


def test_nothing_can_be_added_or_deleted(admin_client, note):
    delivery = Delivery.objects.filter(notification=note).first()

    assert admin_client.get("/admin/notifications/notification/add/").status_code == 403
    assert admin_client.post(f"/admin/notifications/delivery/{delivery.pk}/delete/").status_code == 403
