"""After a visit the consumer is invited, once, to review it."""

import pytest

from notifications.models import Notification
from orders import services
from tests.factories.catalogue import NOW, ServiceFactory, at_day, booking_order

pytestmark = pytest.mark.django_db


def test_checking_a_booking_in_invites_the_consumer_once(user_factory, django_capture_on_commit_callbacks):
    service = ServiceFactory(prepayment="none")
    start = at_day(NOW, 1, 12)
    order = booking_order(user_factory(), service, start, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_check_in(order=order, actor=None, now=start)
        services.booking_check_in(order=order, actor=None, now=start)
    invitations = Notification.objects.filter(user=order.user, kind="review_invitation")
    assert invitations.count() == 1
    assert order.get_absolute_url() in invitations.get().link
