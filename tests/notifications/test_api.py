"""GET /api/v1/me/notifications/ and marking read: the caller's own messages only."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from notifications import events
from notifications.models import Notification

pytestmark = pytest.mark.django_db

LIST = "/api/v1/me/notifications/"


def api_for(user):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def refund_note(user, refund_id):
    [note] = events.refund_done(
        consumer=user, refund_id=refund_id, order_number=f"N{refund_id}", amount=Decimal("10.00"), link="/orders/"
    )
    return note


def test_the_list_needs_authentication():
    assert APIClient(HTTP_ACCEPT_LANGUAGE="en").get(LIST).status_code in (401, 403)


def test_the_list_is_the_callers_own_newest_first_and_paginated(en_user, zh_user):
    mine = [refund_note(en_user, i) for i in range(3)]
    refund_note(zh_user, 99)

    body = api_for(en_user).get(LIST, {"page_size": 2}).json()

    assert body["count"] == 3
    assert [n["id"] for n in body["results"]] == [mine[2].pk, mine[1].pk]
    assert body["next"] is not None
    first = body["results"][0]
    assert set(first) >= {"id", "kind", "title", "body", "link", "read", "read_at", "created_at"}
    assert (first["kind"], first["read"], first["link"]) == ("refund_done", False, "/orders/")


def test_the_unread_filter(en_user):
    read, unread = refund_note(en_user, 1), refund_note(en_user, 2)
    api = api_for(en_user)
    api.post(f"{LIST}{read.pk}/read/")

    assert [n["id"] for n in api.get(LIST, {"unread": "true"}).json()["results"]] == [unread.pk]
    assert [n["id"] for n in api.get(LIST, {"unread": "false"}).json()["results"]] == [read.pk]
    assert api.get(LIST, {"unread": "maybe"}).status_code == 400


def test_marking_one_read(en_user):
    note = refund_note(en_user, 1)

    response = api_for(en_user).post(f"{LIST}{note.pk}/read/")

    assert response.status_code == 200
    assert response.json()["read"] is True
    note.refresh_from_db()
    assert note.read_at is not None


def test_marking_another_users_notification_is_a_404(en_user, zh_user):
    theirs = refund_note(zh_user, 1)

    response = api_for(en_user).post(f"{LIST}{theirs.pk}/read/")

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_notification"
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_read_all_marks_only_the_callers(en_user, zh_user):
    refund_note(en_user, 1), refund_note(en_user, 2)
    theirs = refund_note(zh_user, 3)

    response = api_for(en_user).post(f"{LIST}read-all/")

    assert response.json() == {"updated": 2}
    assert not Notification.objects.filter(user=en_user, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert api_for(en_user).post(f"{LIST}read-all/").json() == {"updated": 0}


def test_the_schema_lists_the_endpoints(client):
    schema = client.get("/api/v1/schema/").content.decode()

    assert "/api/v1/me/notifications/" in schema
    assert "/api/v1/me/notifications/read-all/" in schema
