"""notify(): one inbox entry per event, object and recipient; channels by address and
preference; the recipient's language; nothing sent unless the caller commits."""

from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction

from notifications import events, services
from notifications.models import Category, ChannelPreference, Delivery, Notification

pytestmark = pytest.mark.django_db


def paid(user, order_id=1, **overrides):
    """The consumer's side of order_paid, as payments calls it."""
    values = {
        "consumer": user,
        "merchant_staff": [],
        "order_id": order_id,
        "order_number": "30060312345678",
        "store_name": "Lao Wang Hotpot",
        "items": "Hotpot for two",
        "quantity": 2,
        "amount": Decimal("198.00"),
        "link": "/orders/30060312345678/",
    }
    return events.order_paid(**{**values, **overrides})


def test_notify_twice_makes_one_notification_one_delivery_per_channel_and_one_email(
    zh_user, sms, run_on_commit, django_capture_on_commit_callbacks
):
    # when the same event is told twice (a retried task, a gateway notifying again)
    with run_on_commit():
        [first] = paid(zh_user)
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        [second] = paid(zh_user)

    # then one notification, one delivery per channel, each sent once
    assert second.pk == first.pk
    assert Notification.objects.count() == 1
    assert sorted(Delivery.objects.values_list("channel", "status")) == [
        ("app", "sent"),
        ("email", "sent"),
        ("sms", "sent"),
    ]
    assert second_callbacks == []  # the second call queued nothing
    assert len(mail.outbox) == 1
    assert len(sms.sent) == 1


def test_the_dedupe_key_is_event_object_and_recipient(zh_user, en_user):
    [a] = paid(zh_user, order_id=1)
    [b] = paid(zh_user, order_id=2)
    [c] = paid(en_user, order_id=1)

    assert a.dedupe_key == f"order_paid:orders.order.1:{zh_user.pk}"
    assert len({a.pk, b.pk, c.pk}) == 3


def test_a_notification_without_a_subject_needs_an_explicit_dedupe_key(zh_user):
    with pytest.raises(ValueError, match="subject or a dedupe_key"):
        services.notify(user=zh_user, kind="refund_done", context={})

    note = services.notify(
        user=zh_user, kind="refund_done", context={"amount": Decimal("1.00")}, dedupe_key="refund_done:manual:1"
    )
    assert note.dedupe_key == "refund_done:manual:1"


def test_the_subject_is_kept_as_a_generic_reference(zh_user):
    [note] = paid(zh_user, order_id=7)

    assert note.subject_type.app_label == "orders" and note.subject_type.model == "order"
    assert note.subject_id == "7"


def test_nothing_is_queued_when_the_callers_transaction_rolls_back(zh_user, sms, django_capture_on_commit_callbacks):
    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Boom), transaction.atomic():
        paid(zh_user)
        raise Boom

    assert callbacks == []
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()
    assert mail.outbox == [] and sms.sent == []


def test_deliveries_are_queued_only_on_commit(zh_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        paid(zh_user)

    assert len(callbacks) == 3  # app, e-mail and SMS, each one task after COMMIT
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


# --- language ----------------------------------------------------------------------------------


def test_a_chinese_speaker_gets_chinese_and_an_english_speaker_english(zh_user, en_user, run_on_commit):
    with run_on_commit():
        [zh] = paid(zh_user)
        [en] = paid(en_user)

    assert zh.title == "支付成功：Lao Wang Hotpot"
    assert "您已支付 ¥198.00" in zh.body
    assert en.title == "Payment received: Lao Wang Hotpot"
    assert "You paid ¥198.00" in en.body
    by_address = {message.to[0]: message for message in mail.outbox}
    assert by_address["zh@example.com"].subject == zh.title
    assert by_address["en@example.com"].subject == en.title
    assert "http://127.0.0.1:8000/orders/30060312345678/" in by_address["en@example.com"].body


def test_a_regional_language_code_falls_back_to_its_language(user_factory):
    user = user_factory(language="en-gb")

    [note] = paid(user)

    assert note.title.startswith("Payment received")


def test_plain_text_is_not_html_escaped(en_user):
    [note] = paid(en_user, store_name="Fish & Chips <Bund>")

    assert note.title == "Payment received: Fish & Chips <Bund>"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_event_has_a_message_in_both_languages(language):
    from django.template.loader import get_template

    for kind in events.KINDS:
        get_template(f"notifications/messages/{kind}.{language}.txt")


# --- channels and preferences --------------------------------------------------------------------


def channels_of(note):
    return sorted(note.deliveries.values_list("channel", flat=True))


def test_channels_follow_the_addresses_a_person_has(user_factory):
    nothing = user_factory(email="", phone="")
    email_only = user_factory(phone="")
    both = user_factory(phone="13900000000")

    assert channels_of(paid(nothing)[0]) == ["app"]
    assert channels_of(paid(email_only)[0]) == ["app", "email"]
    assert channels_of(paid(both)[0]) == ["app", "email", "sms"]


def test_switching_email_and_sms_off_keeps_transactional_messages_in_the_inbox(zh_user, run_on_commit):
    services.channel_preferences_set(user=zh_user, choices={Category.TRANSACTIONAL: (False, False)})

    with run_on_commit():
        [note] = paid(zh_user)

    assert channels_of(note) == ["app"]
    assert note.deliveries.get().status == Delivery.Status.SENT
    assert mail.outbox == []


def test_preferences_are_per_category(zh_user):
    services.channel_preferences_set(
        user=zh_user, choices={Category.REMINDERS: (False, True), Category.TRANSACTIONAL: (True, False)}
    )

    [reminder] = events.review_invitation(consumer=zh_user, order_id=1, store_name="Spa", link="/")
    [receipt] = paid(zh_user)

    assert channels_of(reminder) == ["app", "sms"]
    assert channels_of(receipt) == ["app", "email"]
    assert ChannelPreference.objects.filter(user=zh_user).count() == 2


def test_marketing_needs_a_yes_first(zh_user):
    assert services.channel_preferences(zh_user)[Category.MARKETING] == (False, False)

    note = services.notify(
        user=zh_user,
        kind="review_invitation",
        context={"store_name": "Spa"},
        subject=("orders.order", 9),
        category=Category.MARKETING,
    )

    assert channels_of(note) == ["app"]


# --- every event ---------------------------------------------------------------------------------------


def test_booking_cancelled_tells_the_other_side_by_kind(zh_user, en_user):
    import datetime as dt

    common = {
        "order_id": 3,
        "order_number": "1",
        "store_name": "Spa",
        "service_name": "Massage",
        "start": dt.datetime(2030, 6, 3, 18, 30),
        "party_size": 2,
        "link": "/",
    }
    [to_merchant] = events.booking_cancelled(by="consumer", recipients=[en_user], **common)
    [to_consumer] = events.booking_cancelled(by="merchant", recipients=[zh_user], reason="Closed", **common)

    assert to_merchant.kind == "booking_cancelled_by_consumer"
    assert to_consumer.kind == "booking_cancelled_by_merchant" and "原因：Closed" in to_consumer.body
    with pytest.raises(ValueError):
        events.booking_cancelled(by="platform", recipients=[zh_user], **common)


def test_times_are_shown_as_the_stores_wall_clock(en_user):
    import datetime as dt
    import zoneinfo

    urumqi = zoneinfo.ZoneInfo("Asia/Urumqi")
    [note] = events.booking_reminder(
        consumer=en_user,
        order_id=4,
        store_name="Bazaar",
        service_name="Tea",
        start=dt.datetime(2030, 6, 3, 18, 0, tzinfo=urumqi),
        party_size=2,
        link="/",
    )

    assert "18:00" in note.title  # not 20:00, Shanghai's clock at that moment


def test_one_message_per_distinct_recipient(zh_user):
    notes = events.new_review(
        merchant_staff=[zh_user, zh_user, None], review_id=5, store_name="Spa", rating=5, excerpt="Good", link="/"
    )

    assert len(notes) == 1
