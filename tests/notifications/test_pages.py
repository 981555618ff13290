"""The inbox pages and the header's unread badge: each person sees only their own messages."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import events, services
from notifications.models import Category, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_pages(client):
    """The page texts asserted below are the English ones (the site's default is Chinese)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def refund_note(user, refund_id, *, created_at=None):
    [note] = events.refund_done(
        consumer=user, refund_id=refund_id, order_number=f"N{refund_id}", amount=Decimal("10.00"), link="/orders/"
    )
    if created_at:
        Notification.objects.filter(pk=note.pk).update(created_at=created_at)
    return note


def test_the_inbox_needs_a_signed_in_user(client):
    response = client.get("/inbox/")

    assert response.status_code == 302
    assert "/accounts/" in response.url


def test_the_inbox_lists_newest_first_and_marks_the_unread(client, en_user):
    now = timezone.now()
    old = refund_note(en_user, 1, created_at=now - dt.timedelta(days=1))
    new = refund_note(en_user, 2, created_at=now)
    services.notification_mark_read(notification_id=old.pk, user=en_user)
    client.force_login(en_user)

    html = client.get("/inbox/").content.decode()

    assert html.index("order N2") < html.index("order N1")
    unread_items = re.findall(r'<li class="notification unread"[^>]*>\s*<a href="/inbox/(\d+)/"', html)
    assert unread_items == [str(new.pk)]


def test_the_inbox_shows_only_the_users_own_messages(client, en_user, zh_user):
    refund_note(zh_user, 1)
    client.force_login(en_user)

    html = client.get("/inbox/").content.decode()

    assert "N1" not in html
    assert "No messages yet" in html  # the empty state


def test_opening_a_message_marks_it_read_and_shows_its_link(client, en_user):
    note = refund_note(en_user, 1)
    client.force_login(en_user)

    response = client.get(f"/inbox/{note.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Refund completed: ¥10.00" in html
    assert 'href="/orders/"' in html
    note.refresh_from_db()
    assert note.read_at is not None
    first_read = note.read_at
    client.get(f"/inbox/{note.pk}/")
    note.refresh_from_db()
    assert note.read_at == first_read  # reading again changes nothing


def test_another_users_message_is_a_404_and_stays_unread(client, en_user, zh_user):
    theirs = refund_note(zh_user, 1)
    client.force_login(en_user)

    assert client.get(f"/inbox/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_link_to_another_site_is_not_shown(client, en_user):
    note = refund_note(en_user, 1)
    Notification.objects.filter(pk=note.pk).update(link="https://evil.example/")
    client.force_login(en_user)

    assert "evil.example" not in client.get(f"/inbox/{note.pk}/").content.decode()


def test_mark_all_read_reads_only_the_users_messages(client, en_user, zh_user):
    mine = [refund_note(en_user, 1), refund_note(en_user, 2)]
    theirs = refund_note(zh_user, 3)
    client.force_login(en_user)

    assert client.get("/inbox/read-all/").status_code == 405
    response = client.post("/inbox/read-all/")

    assert response.status_code == 302
    assert Notification.objects.filter(pk__in=[n.pk for n in mine], read_at__isnull=True).count() == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None


# --- the header's badge ---------------------------------------------------------------------------


def badge(html):
    found = re.search(r'<a href="/inbox/" class="inbox-link">[^<]*(?:<span class="badge"[^>]*>([^<]+)</span>)?', html)
    return found and found.group(1)


def test_the_badge_counts_unread_messages(client, en_user):
    client.force_login(en_user)
    assert badge(client.get("/inbox/").content.decode()) is None  # link, no badge

    notes = [refund_note(en_user, i) for i in range(3)]
    assert badge(client.get("/inbox/").content.decode()) == "3"

    client.get(f"/inbox/{notes[0].pk}/")
    assert badge(client.get("/inbox/").content.decode()) == "2"


def test_the_badge_costs_one_count_query(client, en_user):
    refund_note(en_user, 1)
    client.force_login(en_user)
    client.get("/")  # warm up: session, city lookups

    with CaptureQueriesContext(connection) as queries:
        client.get("/")

    counts = [q["sql"] for q in queries.captured_queries if "notifications_notification" in q["sql"]]
    assert len(counts) == 1 and "COUNT(" in counts[0].upper()


def test_visitors_get_no_badge_and_no_query(client):
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/").content.decode()

    assert 'href="/inbox/"' not in html
    assert not any("notifications_notification" in q["sql"] for q in queries.captured_queries)


# --- preferences ------------------------------------------------------------------------------------


def test_the_preferences_page_saves_email_and_sms_per_category(client, en_user):
    client.force_login(en_user)
    page = client.get("/inbox/preferences/").content.decode()
    assert "always arrives in your in-app inbox" in page
    assert 'name="marketing_email"' in page and 'name="marketing_email" id="id_marketing_email" checked' not in page

    response = client.post(
        "/inbox/preferences/", {"transactional_email": "on", "reminders_sms": "on", "marketing_email": "on"}
    )

    assert response.status_code == 302
    assert services.channel_preferences(en_user) == {
        Category.TRANSACTIONAL: (True, False),
        Category.REMINDERS: (False, True),
        Category.MARKETING: (True, False),
    }


def test_with_everything_off_a_transactional_message_still_reaches_the_inbox(client, en_user):
    client.force_login(en_user)
    client.post("/inbox/preferences/", {})

    note = refund_note(en_user, 1)

    assert list(note.deliveries.values_list("channel", flat=True)) == ["app"]
    assert "Refund completed" in client.get("/inbox/").content.decode()
