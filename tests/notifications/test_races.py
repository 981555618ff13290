"""Real concurrency on PostgreSQL: duplicated tasks for one delivery, and one event told by
several processes at once, each end in one message."""

import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection

from notifications import events, services
from notifications.models import Delivery, Notification

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(calls):
    """Run `calls` at once on their own connections; returns what each raised (or None)."""
    barrier = threading.Barrier(len(calls))
    errors = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            call()
        except Exception as exc:
            errors[i] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_eight_copies_of_one_delivery_task_send_one_sms(zh_user, sms):
    [note] = events.refund_done(consumer=zh_user, refund_id=1, order_number="N1", amount=Decimal("1.00"), link="/")
    delivery = note.deliveries.get(channel="sms")

    errors = race([lambda: services.delivery_send(delivery_id=delivery.pk)] * 8)

    assert errors == [None] * 8
    assert len(sms.sent) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 1)


def test_one_event_told_by_eight_processes_at_once_makes_one_notification(zh_user):
    def tell():
        events.refund_done(consumer=zh_user, refund_id=2, order_number="N2", amount=Decimal("1.00"), link="/")

    errors = race([tell] * 8)

    assert errors == [None] * 8
    assert Notification.objects.count() == 1
    assert Delivery.objects.count() == 3
