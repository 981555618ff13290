"""Sending a delivery: once however often the task runs, retried with backoff, failed (not
dropped) when it never works, and picked up again after a worker died."""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from notifications import events, services
from notifications.models import Delivery
from notifications.tasks import deliver_task, deliveries_retry_stuck_task

pytestmark = pytest.mark.django_db


def make_notification(user, order_id=1):
    [note] = events.refund_done(
        consumer=user, refund_id=order_id, order_number="30060312345678", amount=Decimal("88.00"), link="/orders/1/"
    )
    return note


def delivery(note, channel):
    return note.deliveries.get(channel=channel)


def test_running_the_task_twice_sends_one_message(zh_user, sms):
    note = make_notification(zh_user)  # on_commit not run: every delivery still pending

    for _ in range(2):
        for d in note.deliveries.all():
            deliver_task.delay(d.pk)

    assert len(mail.outbox) == 1
    assert len(sms.sent) == 1
    assert set(note.deliveries.values_list("status", "attempts")) == {("sent", 1)}


def test_a_channel_failing_twice_then_working_delivers_once(zh_user, flaky_sms, run_on_commit):
    flaky_sms.reset(failures=2)

    with run_on_commit():
        note = make_notification(zh_user)

    sms = delivery(note, "sms")
    assert sms.status == Delivery.Status.SENT
    assert sms.attempts == 3
    assert flaky_sms.calls == 3
    assert len(flaky_sms.sent) == 1
    assert flaky_sms.sent[0]["key"] == str(sms.idempotency_key)
    assert "provider timed out (call 2)" in sms.last_error  # what went wrong on the way stays visible


def test_a_channel_that_always_fails_ends_failed_with_its_last_error(zh_user, flaky_sms, run_on_commit):
    flaky_sms.reset(failures=100)

    with run_on_commit():
        note = make_notification(zh_user)

    sms = delivery(note, "sms")
    assert sms.status == Delivery.Status.FAILED
    assert sms.attempts == services.MAX_ATTEMPTS
    assert sms.last_error == "ConnectionError: provider timed out (call 5)"
    assert sms.sent_at is None
    # the other channels are not held back by it
    assert delivery(note, "email").status == delivery(note, "app").status == Delivery.Status.SENT


def test_a_failed_delivery_is_not_sent_again_by_a_late_task(zh_user, flaky_sms, run_on_commit):
    flaky_sms.reset(failures=100)
    with run_on_commit():
        note = make_notification(zh_user)

    deliver_task.delay(delivery(note, "sms").pk)

    assert flaky_sms.calls == services.MAX_ATTEMPTS


def test_a_permanent_error_fails_at_once(zh_user, sms):
    note = make_notification(zh_user)
    Delivery.objects.filter(notification=note, channel="sms").update(address="")

    deliver_task.delay(delivery(note, "sms").pk)

    sms_delivery = delivery(note, "sms")
    assert (sms_delivery.status, sms_delivery.attempts) == ("failed", 1)
    assert sms_delivery.last_error == "PermanentChannelError: no phone number"


def test_a_task_finds_a_delivery_another_worker_is_sending_and_leaves_it(zh_user, sms):
    note = make_notification(zh_user)
    Delivery.objects.filter(notification=note, channel="sms").update(status="sending", claimed_at=timezone.now())

    assert services.delivery_send(delivery_id=delivery(note, "sms").pk) is None

    assert sms.sent == []


def test_a_send_interrupted_by_a_dead_worker_is_resumed_with_the_same_key(zh_user, sms, settings):
    note = make_notification(zh_user)
    lease = dt.timedelta(seconds=settings.NOTIFICATION_SENDING_LEASE_SECONDS)
    died_at = timezone.now() - lease - dt.timedelta(seconds=1)
    Delivery.objects.filter(notification=note, channel="sms").update(status="sending", claimed_at=died_at, attempts=1)

    queued = deliveries_retry_stuck_task.delay().get()

    sms_delivery = delivery(note, "sms")
    assert queued >= 1
    assert (sms_delivery.status, sms_delivery.attempts) == ("sent", 2)
    assert [s["key"] for s in sms.sent] == [str(sms_delivery.idempotency_key)]


def test_the_sweep_queues_pending_deliveries_whose_task_was_lost(zh_user, sms):
    # given deliveries whose tasks never ran (the broker was down at commit)
    note = make_notification(zh_user)
    later = timezone.now() + services.STUCK_AFTER + dt.timedelta(seconds=1)

    # when the sweep runs before they are overdue, then later
    assert services.deliveries_retry_stuck() == 0
    assert services.deliveries_retry_stuck(now=later) == 3

    # then each was sent once, and a later sweep finds nothing
    assert set(note.deliveries.values_list("status", flat=True)) == {"sent"}
    assert len(mail.outbox) == 1 and len(sms.sent) == 1
    assert services.deliveries_retry_stuck(now=later + services.STUCK_AFTER * 2) == 0


def test_a_broker_down_at_commit_does_not_fail_the_caller(zh_user, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(deliver_task, "delay", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        note = make_notification(zh_user)

    assert set(note.deliveries.values_list("status", flat=True)) == {"pending"}  # the sweep's to send


def test_an_email_carries_a_message_id_fixed_per_delivery(zh_user, run_on_commit):
    with run_on_commit():
        note = make_notification(zh_user)

    email = delivery(note, "email")
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<{email.idempotency_key}@127.0.0.1>"
    assert email.provider_message_id == mail.outbox[0].extra_headers["Message-ID"]
