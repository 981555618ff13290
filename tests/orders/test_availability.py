"""available_slots: which start times a consumer is offered on a date."""

import datetime as dt

import pytest

from merchants.models import ServiceDateRule
from merchants.services import store_closed_date_add
from orders.availability import available_slots
from orders.services import order_cancel_unpaid
from tests.factories.catalogue import NOW, ServiceDateRuleFactory, ServiceFactory, booking_order, local

pytestmark = pytest.mark.django_db

TODAY = dt.date(2030, 6, 3)  # a Monday
TUESDAY = dt.date(2030, 6, 4)


def starts(slots):
    return [s.start.strftime("%H:%M") for s in slots]


def test_slots_follow_the_weekly_schedule_of_the_dates_weekday():
    service = ServiceFactory(weekly=[(1, "10:00", "11:30", 30)], duration_minutes=45, capacity=3)

    tuesday = available_slots(service, TUESDAY, now=NOW)
    wednesday = available_slots(service, TUESDAY + dt.timedelta(days=1), now=NOW)

    assert starts(tuesday) == ["10:00", "10:30", "11:00", "11:30"]
    assert tuesday[0].start == local(2030, 6, 4, 10)
    assert tuesday[0].end == local(2030, 6, 4, 10, 45)
    assert {s.remaining for s in tuesday} == {3}
    assert wednesday == []


def test_several_rules_on_one_day_give_lunch_and_dinner_slots_in_order():
    service = ServiceFactory(weekly=[(1, "18:00", "19:00", 60), (1, "11:00", "12:00", 60)])

    assert starts(available_slots(service, TUESDAY, now=NOW)) == ["11:00", "12:00", "18:00", "19:00"]


def test_today_offers_only_slots_after_the_minimum_notice():
    service = ServiceFactory(min_notice_minutes=90)  # hourly 10:00..20:00
    now = local(2030, 6, 3, 9, 45)  # earliest bookable start 11:15

    assert starts(available_slots(service, TODAY, now=now))[:2] == ["12:00", "13:00"]


def test_a_slot_exactly_at_the_minimum_notice_is_offered():
    service = ServiceFactory(min_notice_minutes=60)

    assert starts(available_slots(service, TODAY, now=local(2030, 6, 3, 10)))[0] == "11:00"


def test_past_dates_offer_nothing():
    service = ServiceFactory()

    assert available_slots(service, TODAY - dt.timedelta(days=1), now=NOW) == []


def test_dates_up_to_the_booking_window_are_offered_and_not_beyond():
    service = ServiceFactory(booking_window_days=14)

    assert len(available_slots(service, TODAY + dt.timedelta(days=14), now=NOW)) == 11
    assert available_slots(service, TODAY + dt.timedelta(days=15), now=NOW) == []


def test_a_closed_store_date_offers_nothing():
    service = ServiceFactory()
    store_closed_date_add(store=service.store, date=TUESDAY, note="Dragon Boat Festival")

    assert available_slots(service, TUESDAY, now=NOW) == []
    assert len(available_slots(service, TUESDAY + dt.timedelta(days=1), now=NOW)) == 11


def test_a_closed_service_date_offers_nothing_even_with_an_extra_opening():
    service = ServiceFactory()
    ServiceDateRuleFactory(service=service, date=TUESDAY, kind=ServiceDateRule.Kind.CLOSED)
    ServiceDateRuleFactory(
        service=service, date=TUESDAY, kind=ServiceDateRule.Kind.EXTRA, starts=dt.time(21), ends=dt.time(22)
    )

    assert available_slots(service, TUESDAY, now=NOW) == []


def test_an_extra_opening_adds_slots_on_a_day_without_a_schedule():
    service = ServiceFactory(weekly=[(0, "10:00", "12:00", 60)])  # Mondays only
    ServiceDateRuleFactory(
        service=service,
        date=TUESDAY,
        kind=ServiceDateRule.Kind.EXTRA,
        starts=dt.time(14),
        ends=dt.time(15),
        slot_minutes=30,
    )

    assert starts(available_slots(service, TUESDAY, now=NOW)) == ["14:00", "14:30", "15:00"]


def test_an_extra_opening_merges_with_the_weekly_slots():
    service = ServiceFactory(weekly=[(1, "10:00", "12:00", 60)])
    ServiceDateRuleFactory(
        service=service, date=TUESDAY, kind=ServiceDateRule.Kind.EXTRA, starts=dt.time(11), ends=dt.time(13)
    )

    assert starts(available_slots(service, TUESDAY, now=NOW)) == ["10:00", "11:00", "11:30", "12:00", "12:30", "13:00"]


def test_an_inactive_service_offers_nothing():
    service = ServiceFactory(is_active=False)

    assert available_slots(service, TUESDAY, now=NOW) == []


def test_remaining_decreases_after_a_booking_and_a_full_slot_is_not_offered(user_factory):
    service = ServiceFactory(weekly=[(1, "10:00", "11:00", 60)], capacity=2)
    ten = local(2030, 6, 4, 10)

    booking_order(user_factory(), service, ten, now=NOW)
    after_one = {s.start: s.remaining for s in available_slots(service, TUESDAY, now=NOW)}
    booking_order(user_factory(), service, ten, now=NOW)
    after_two = {s.start: s.remaining for s in available_slots(service, TUESDAY, now=NOW)}

    assert after_one == {ten: 1, local(2030, 6, 4, 11): 2}
    assert after_two == {local(2030, 6, 4, 11): 2}


def test_a_per_person_service_counts_each_person_as_a_place(user_factory):
    service = ServiceFactory(weekly=[(1, "10:00", "10:00", 60)], capacity=10, capacity_per_person=True, max_party=6)

    booking_order(user_factory(), service, local(2030, 6, 4, 10), party_size=6, now=NOW)

    (slot,) = available_slots(service, TUESDAY, now=NOW)
    assert slot.remaining == 4


def test_a_table_service_counts_a_party_as_one_place(user_factory):
    service = ServiceFactory(weekly=[(1, "10:00", "10:00", 60)], capacity=3, capacity_per_person=False)

    booking_order(user_factory(), service, local(2030, 6, 4, 10), party_size=4, now=NOW)

    (slot,) = available_slots(service, TUESDAY, now=NOW)
    assert slot.remaining == 2


def test_a_cancelled_hold_gives_its_place_back(user_factory):
    service = ServiceFactory(weekly=[(1, "10:00", "10:00", 60)], capacity=1)
    consumer = user_factory()
    order = booking_order(consumer, service, local(2030, 6, 4, 10), now=NOW)
    assert available_slots(service, TUESDAY, now=NOW) == []

    order_cancel_unpaid(order=order, actor=consumer, now=NOW)

    assert [s.remaining for s in available_slots(service, TUESDAY, now=NOW)] == [1]


def test_an_expired_hold_does_not_hide_the_slot_before_the_expiry_worker_runs(user_factory):
    # given the only place held by a booking left unpaid for more than 15 minutes
    service = ServiceFactory(weekly=[(1, "10:00", "10:00", 60)], capacity=1)
    booking_order(user_factory(), service, local(2030, 6, 4, 10), now=NOW)

    # when someone looks after the deadline (no worker has run)
    slots = available_slots(service, TUESDAY, now=NOW + dt.timedelta(minutes=15))

    # then the slot is offered: booking it would expire the stale hold (DESIGN §9)
    assert [s.remaining for s in slots] == [1]
