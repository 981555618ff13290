"""The catalogue services: every rule a service or a deal must follow, and Store.has_deals."""

import datetime as dt
from decimal import Decimal

import pytest

from merchants import catalogue_services as catalogue
from merchants.models import CancellationPolicy, Deal, Service, ServiceDateRule, ServiceSchedule, Store
from o2o.errors import Invalid, NotFound
from o2o.models import AuditEvent
from tests.factories.catalogue import NOW, DealFactory, ServiceFactory, deal_order
from tests.factories.merchants import MerchantFactory, StoreFactory

pytestmark = pytest.mark.django_db

T = dt.time


@pytest.fixture
def merchant():
    return MerchantFactory(name="Hotpot King")


@pytest.fixture
def store(merchant):
    return StoreFactory(merchant=merchant, name="Hotpot King Jing'an")


@pytest.fixture
def owner(user_factory):
    return user_factory(username="boss")


def service_fields(**overrides):
    fields = {
        "name": "Table for four",
        "description": "By the window",
        "price": Decimal("300.00"),
        "prepayment": Service.Prepayment.DEPOSIT,
        "deposit": Decimal("50.00"),
        "duration_minutes": 90,
        "capacity": 6,
        "capacity_per_person": False,
        "min_party": 2,
        "max_party": 4,
        "booking_window_days": 14,
        "min_notice_minutes": 60,
        "cancellation_policy": CancellationPolicy.FAIR,
        "is_active": True,
    }
    fields.update(overrides)
    return fields


def deal_fields(**overrides):
    fields = {
        "title": "Hotpot for two",
        "contents": [{"name": "Beef", "quantity": 2, "price": Decimal("68")}],
        "price": Decimal("158.00"),
        "original_price": Decimal("236.00"),
        "stock": 50,
        "per_user_limit": 2,
        "max_per_order": 2,
        "sale_starts": None,
        "sale_ends": None,
        "valid_days": 60,
        "valid_until": None,
        "weekdays_only": False,
        "max_per_visit": None,
        "needs_appointment": False,
        "appointment_service": None,
        "usage_notes": "",
        "is_active": True,
    }
    fields.update(overrides)
    return fields


def refused(call, **kwargs):
    with pytest.raises(Invalid) as info:
        call(**kwargs)
    return info.value


# --- services ---------------------------------------------------------------------------------


def test_service_save_creates_a_service_at_the_store_and_audits_it(merchant, store, owner):
    service = catalogue.service_save(merchant=merchant, acting_user=owner, store=store, **service_fields())

    service.refresh_from_db()
    assert (service.store, service.name, service.deposit) == (store, "Table for four", Decimal("50.00"))
    event = AuditEvent.objects.get(action="service.created")
    assert (event.actor, event.object_id) == (owner, str(service.pk))


def test_service_save_updates_only_the_service_it_is_given(merchant, store, owner):
    service = catalogue.service_save(merchant=merchant, acting_user=owner, store=store, **service_fields())
    other = ServiceFactory(store=store, name="Private room")

    catalogue.service_save(merchant=merchant, acting_user=owner, service=service, name="Window table", max_party=6)

    service.refresh_from_db()
    other.refresh_from_db()
    assert (service.name, service.max_party) == ("Window table", 6)
    assert other.name == "Private room"
    assert AuditEvent.objects.filter(action="service.updated", object_id=str(service.pk)).exists()


def test_a_negative_price_is_refused(merchant, store, owner):
    error = refused(
        catalogue.service_save, merchant=merchant, acting_user=owner, store=store, **service_fields(price=Decimal("-1"))
    )
    assert (error.field, error.code) == ("price", "negative_price")
    assert not Service.objects.exists()


def test_a_deposit_above_the_price_is_refused(merchant, store, owner):
    fields = service_fields(price=Decimal("40.00"), deposit=Decimal("50.00"))
    error = refused(catalogue.service_save, merchant=merchant, acting_user=owner, store=store, **fields)
    assert (error.field, error.code) == ("deposit", "deposit_over_price")


def test_a_deposit_service_needs_a_deposit(merchant, store, owner):
    error = refused(
        catalogue.service_save, merchant=merchant, acting_user=owner, store=store, **service_fields(deposit=0)
    )
    assert (error.field, error.code) == ("deposit", "deposit_required")


def test_the_deposit_is_cleared_when_another_prepayment_is_chosen(merchant, store, owner):
    fields = service_fields(prepayment=Service.Prepayment.FULL, deposit=Decimal("999.00"))
    service = catalogue.service_save(merchant=merchant, acting_user=owner, store=store, **fields)
    assert service.deposit == Decimal("0.00")


def test_the_smallest_party_cannot_be_larger_than_the_largest(merchant, store, owner):
    fields = service_fields(min_party=5, max_party=4)
    error = refused(catalogue.service_save, merchant=merchant, acting_user=owner, store=store, **fields)
    assert (error.field, error.code) == ("max_party", "party_range")


def test_a_party_must_fit_a_slot_when_each_person_takes_a_place(merchant, store, owner):
    fields = service_fields(capacity_per_person=True, capacity=3, max_party=4)
    error = refused(catalogue.service_save, merchant=merchant, acting_user=owner, store=store, **fields)
    assert (error.field, error.code) == ("max_party", "party_over_capacity")


def test_every_broken_rule_is_reported_at_once(merchant, store, owner):
    fields = service_fields(price=Decimal("-5"), min_party=5, max_party=4)
    error = refused(catalogue.service_save, merchant=merchant, acting_user=owner, store=store, **fields)
    assert set(error.extra["errors"]) == {"price", "deposit", "max_party"}


def test_a_service_cannot_be_created_at_another_merchants_store(merchant, owner):
    theirs = StoreFactory()
    with pytest.raises(NotFound):
        catalogue.service_save(merchant=merchant, acting_user=owner, store=theirs, **service_fields())
    assert not Service.objects.exists()


def test_another_merchants_service_cannot_be_changed(merchant, owner):
    theirs = ServiceFactory(name="Theirs")
    with pytest.raises(NotFound):
        catalogue.service_save(merchant=merchant, acting_user=owner, service=theirs, name="Mine now")
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_a_service_stays_at_its_store(merchant, store, owner):
    service = ServiceFactory(store=store)
    error = refused(
        catalogue.service_save,
        merchant=merchant,
        acting_user=owner,
        service=service,
        store=StoreFactory(merchant=merchant),
        name="Moved",
    )
    assert error.code == "store_fixed"


def test_unknown_fields_are_refused(merchant, store, owner):
    error = refused(
        catalogue.service_save, merchant=merchant, acting_user=owner, store=store, **service_fields(store_id=3)
    )
    assert error.code == "unknown_fields"


# --- schedules and date rules --------------------------------------------------------------------------


def test_schedules_set_replaces_the_weekly_rules(store, owner):
    service = ServiceFactory(store=store)  # hourly 10:00-20:00 every day

    catalogue.service_schedules_set(
        service=service,
        rules=[(0, T(11), T(14), 30), (0, T(17), T(20), 30), (5, T(10), T(22), 60)],
        acting_user=owner,
    )

    rows = list(
        ServiceSchedule.objects.filter(service=service).values_list("weekday", "starts", "ends", "slot_minutes")
    )
    assert rows == [(0, T(11), T(14), 30), (0, T(17), T(20), 30), (5, T(10), T(22), 60)]
    assert AuditEvent.objects.filter(action="service.schedule_set", object_id=str(service.pk)).exists()


def test_a_schedule_whose_last_slot_is_before_the_first_is_refused(store):
    service = ServiceFactory(store=store)
    error = refused(catalogue.service_schedules_set, service=service, rules=[(2, T(20), T(11), 30)])
    assert (error.field, error.code) == ("day_2", "schedule_order")
    assert service.schedules.count() == 7  # unchanged


@pytest.mark.parametrize("minutes", [0, 4, 1441])
def test_slots_must_be_5_to_1440_minutes_apart(store, minutes):
    service = ServiceFactory(store=store)
    error = refused(catalogue.service_schedules_set, service=service, rules=[(1, T(10), T(12), minutes)])
    assert error.code == "bad_slot_minutes"


def test_a_weekday_outside_monday_to_sunday_is_refused(store):
    error = refused(catalogue.service_schedules_set, service=ServiceFactory(store=store), rules=[(7, T(10), T(12), 30)])
    assert error.code == "bad_weekday"


def test_closing_a_date_twice_keeps_one_rule(store, owner):
    service = ServiceFactory(store=store)
    day = NOW.date() + dt.timedelta(days=3)

    first = catalogue.service_date_rule_add(service=service, date=day, kind="closed", acting_user=owner, now=NOW)
    second = catalogue.service_date_rule_add(service=service, date=day, kind="closed", acting_user=owner, now=NOW)

    assert first == second
    assert service.date_rules.count() == 1
    assert AuditEvent.objects.filter(action="service.date_rule_added").count() == 1


def test_an_extra_opening_needs_its_times_in_order(store):
    service = ServiceFactory(store=store)
    day = NOW.date() + dt.timedelta(days=3)
    error = refused(
        catalogue.service_date_rule_add,
        service=service,
        date=day,
        kind="extra",
        starts=T(22),
        ends=T(18),
        now=NOW,
    )
    assert (error.field, error.code) == ("times", "schedule_order")
    error = refused(catalogue.service_date_rule_add, service=service, date=day, kind="extra", now=NOW)
    assert error.code == "times_required"
    assert not service.date_rules.exists()


def test_an_extra_opening_is_added_with_its_slots(store):
    service = ServiceFactory(store=store)
    day = NOW.date() + dt.timedelta(days=3)
    rule = catalogue.service_date_rule_add(
        service=service, date=day, kind="extra", starts=T(21), ends=T(22), slot_minutes=30, now=NOW
    )
    assert (rule.kind, rule.starts, rule.ends, rule.slot_minutes) == ("extra", T(21), T(22), 30)


def test_a_date_rule_in_the_past_is_refused(store):
    error = refused(
        catalogue.service_date_rule_add,
        service=ServiceFactory(store=store),
        date=NOW.date() - dt.timedelta(days=1),
        kind="closed",
        now=NOW,
    )
    assert (error.field, error.code) == ("date", "date_in_past")


def test_no_extra_opening_on_a_closed_date(store):
    service = ServiceFactory(store=store)
    day = NOW.date() + dt.timedelta(days=2)
    catalogue.service_date_rule_add(service=service, date=day, kind="closed", now=NOW)
    error = refused(
        catalogue.service_date_rule_add, service=service, date=day, kind="extra", starts=T(9), ends=T(10), now=NOW
    )
    assert error.code == "date_closed"


def test_removing_a_date_rule_twice_is_harmless(store, owner):
    service = ServiceFactory(store=store)
    rule = catalogue.service_date_rule_add(service=service, date=NOW.date(), kind="closed", now=NOW)

    assert catalogue.service_date_rule_remove(service=service, rule_id=rule.pk, acting_user=owner) is True
    assert catalogue.service_date_rule_remove(service=service, rule_id=rule.pk, acting_user=owner) is False
    assert not ServiceDateRule.objects.exists()


def test_a_date_rule_of_another_service_is_not_removed(store):
    mine, theirs = ServiceFactory(store=store), ServiceFactory()
    rule = catalogue.service_date_rule_add(service=theirs, date=NOW.date(), kind="closed", now=NOW)

    assert catalogue.service_date_rule_remove(service=mine, rule_id=rule.pk) is False
    assert ServiceDateRule.objects.filter(pk=rule.pk).exists()


# --- deals ------------------------------------------------------------------------------------------


def test_deal_save_creates_a_deal_with_clean_contents(merchant, store, owner):
    deal = catalogue.deal_save(merchant=merchant, acting_user=owner, store=store, **deal_fields())

    deal.refresh_from_db()
    assert deal.contents == [{"name": "Beef", "quantity": 2, "price": "68.00"}]
    assert deal.stock == 50
    assert AuditEvent.objects.filter(action="deal.created", object_id=str(deal.pk), actor=owner).exists()


@pytest.mark.parametrize("price", [Decimal("0.00"), Decimal("-3.00")])
def test_a_deal_price_must_be_more_than_zero(merchant, store, owner, price):
    error = refused(catalogue.deal_save, merchant=merchant, acting_user=owner, store=store, **deal_fields(price=price))
    assert (error.field, error.code) == ("price", "price_not_positive")
    assert not Deal.objects.exists()


def test_a_deal_price_cannot_be_more_than_the_original(merchant, store, owner):
    fields = deal_fields(price=Decimal("240.00"), original_price=Decimal("236.00"))
    error = refused(catalogue.deal_save, merchant=merchant, acting_user=owner, store=store, **fields)
    assert (error.field, error.code) == ("price", "price_over_original")


def test_a_deal_needs_a_validity(merchant, store, owner):
    fields = deal_fields(valid_days=None, valid_until=None)
    error = refused(catalogue.deal_save, merchant=merchant, acting_user=owner, store=store, **fields)
    assert (error.field, error.code) == ("valid_days", "no_validity")


def test_a_fixed_validity_date_alone_is_enough_but_not_in_the_past(merchant, store, owner):
    future = NOW.date() + dt.timedelta(days=30)
    deal = catalogue.deal_save(
        merchant=merchant, acting_user=owner, store=store, now=NOW, **deal_fields(valid_days=None, valid_until=future)
    )
    assert deal.valid_until == future
    error = refused(
        catalogue.deal_save,
        merchant=merchant,
        acting_user=owner,
        deal=deal,
        now=NOW,
        valid_until=NOW.date() - dt.timedelta(days=1),
    )
    assert (error.field, error.code) == ("valid_until", "validity_in_past")


def test_the_sale_must_end_after_it_starts(merchant, store, owner):
    fields = deal_fields(sale_starts=NOW, sale_ends=NOW)
    error = refused(catalogue.deal_save, merchant=merchant, acting_user=owner, store=store, **fields)
    assert (error.field, error.code) == ("sale_ends", "sale_window")


def test_stock_cannot_go_below_the_units_already_taken(merchant, store, owner, user_factory):
    deal = DealFactory(store=store, stock=10, per_user_limit=5)
    deal_order(user_factory(), deal, 3)

    error = refused(catalogue.deal_save, merchant=merchant, acting_user=owner, deal=deal, stock=2)

    assert (error.field, error.code) == ("stock", "stock_below_taken")
    deal.refresh_from_db()
    assert deal.stock == 10
    catalogue.deal_save(merchant=merchant, acting_user=owner, deal=deal, stock=3)  # exactly what is taken: fine


def test_saving_a_deal_never_writes_back_a_stale_units_taken(merchant, store, owner, user_factory):
    deal = DealFactory(store=store, stock=10)
    stale = Deal.objects.get(pk=deal.pk)  # the editor opened the page...
    deal_order(user_factory(), deal, 2)  # ...a buyer took two units meanwhile

    catalogue.deal_save(merchant=merchant, acting_user=owner, deal=stale, title="New title", stock=20)

    deal.refresh_from_db()
    assert (deal.title, deal.stock, deal.units_taken) == ("New title", 20, 2)


def test_usable_stores_must_be_the_merchants_own(merchant, store, owner):
    fields = deal_fields()
    error = refused(
        catalogue.deal_save,
        merchant=merchant,
        acting_user=owner,
        store=store,
        usable_stores=[store, StoreFactory()],
        **fields,
    )
    assert (error.field, error.code) == ("usable_stores", "not_your_store")

    branch = StoreFactory(merchant=merchant)
    deal = catalogue.deal_save(
        merchant=merchant, acting_user=owner, store=store, usable_stores=[store, branch], **fields
    )
    assert deal.redeemable_store_ids() == {store.pk, branch.pk}


def test_the_appointment_service_must_be_the_merchants_own(merchant, store, owner):
    fields = deal_fields(needs_appointment=True, appointment_service=ServiceFactory())
    error = refused(catalogue.deal_save, merchant=merchant, acting_user=owner, store=store, **fields)
    assert (error.field, error.code) == ("appointment_service", "not_your_service")

    mine = ServiceFactory(store=StoreFactory(merchant=merchant))
    deal = catalogue.deal_save(
        merchant=merchant,
        acting_user=owner,
        store=store,
        **deal_fields(needs_appointment=True, appointment_service=mine),
    )
    assert deal.appointment_service == mine


def test_the_appointment_service_is_dropped_without_an_appointment(merchant, store, owner):
    mine = ServiceFactory(store=store)
    fields = deal_fields(needs_appointment=False, appointment_service=mine)
    deal = catalogue.deal_save(merchant=merchant, acting_user=owner, store=store, **fields)
    assert deal.appointment_service is None


def test_bad_contents_are_refused(merchant, store, owner):
    fields = deal_fields(contents=[{"name": "Beef", "quantity": 0, "price": "10"}])
    error = refused(catalogue.deal_save, merchant=merchant, acting_user=owner, store=store, **fields)
    assert (error.field, error.code) == ("contents", "bad_contents")


def test_a_deal_cannot_be_created_at_another_merchants_store(merchant, owner):
    with pytest.raises(NotFound):
        catalogue.deal_save(merchant=merchant, acting_user=owner, store=StoreFactory(), **deal_fields())
    assert not Deal.objects.exists()


def test_another_merchants_deal_cannot_be_changed(merchant, owner):
    theirs = DealFactory(title="Theirs")
    with pytest.raises(NotFound):
        catalogue.deal_save(merchant=merchant, acting_user=owner, deal=theirs, title="Mine now")
    theirs.refresh_from_db()
    assert theirs.title == "Theirs"


# --- has_deals -------------------------------------------------------------------------------------------


def has_deals(store):
    return Store.objects.values_list("has_deals", flat=True).get(pk=store.pk)


def test_has_deals_follows_deals_going_on_and_off_sale(merchant, store, owner):
    assert has_deals(store) is False
    first = catalogue.deal_save(merchant=merchant, acting_user=owner, store=store, **deal_fields())
    assert has_deals(store) is True
    second = catalogue.deal_save(merchant=merchant, acting_user=owner, store=store, **deal_fields(title="Second"))

    catalogue.deal_set_active(deal=first, is_active=False, acting_user=owner)
    assert has_deals(store) is True  # the second is still on sale
    catalogue.deal_save(merchant=merchant, acting_user=owner, deal=second, is_active=False)
    assert has_deals(store) is False
    catalogue.deal_set_active(deal=second, is_active=True, acting_user=owner)
    assert has_deals(store) is True


def test_has_deals_counts_only_deals_inside_their_sale_window(merchant, store, owner):
    later = deal_fields(sale_starts=NOW + dt.timedelta(days=1), sale_ends=NOW + dt.timedelta(days=8))
    deal = catalogue.deal_save(merchant=merchant, acting_user=owner, store=store, now=NOW, **later)
    assert has_deals(store) is False

    # The sale opens by itself: the periodic repair notices, and again when it closes.
    assert catalogue.stores_has_deals_refresh(now=NOW + dt.timedelta(days=2)) == 1
    assert has_deals(store) is True
    assert catalogue.stores_has_deals_refresh(now=NOW + dt.timedelta(days=2)) == 0
    assert catalogue.stores_has_deals_refresh(now=NOW + dt.timedelta(days=9)) == 1
    assert has_deals(store) is False
    assert deal.store_id == store.pk


def test_has_deals_is_per_store(merchant, store, owner):
    branch = StoreFactory(merchant=merchant)
    catalogue.deal_save(merchant=merchant, acting_user=owner, store=store, **deal_fields())
    assert (has_deals(store), has_deals(branch)) == (True, False)


def test_deal_set_active_is_idempotent_and_audited(merchant, store, owner):
    deal = catalogue.deal_save(merchant=merchant, acting_user=owner, store=store, **deal_fields())

    catalogue.deal_set_active(deal=deal, is_active=False, acting_user=owner)
    catalogue.deal_set_active(deal=deal, is_active=False, acting_user=owner)

    deal.refresh_from_db()
    assert deal.is_active is False
    assert AuditEvent.objects.filter(action="deal.taken_off_sale", object_id=str(deal.pk)).count() == 1


# --- races (PostgreSQL: real row locks) ---------------------------------------------------------------


def race(*calls):
    """Run the calls at the same moment in threads; return what each returned or raised."""
    import threading

    from django.db import connection as thread_connection

    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # the test inspects what each caller got
            results[index] = exc
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_lowering_the_stock_while_someone_buys_never_oversells(merchant, store, owner, user_factory):
    for _round in range(5):
        deal = DealFactory(store=store, stock=5, per_user_limit=10)
        deal_order(user_factory(), deal, 4)

        bought, edited = race(
            lambda deal=deal: deal_order(user_factory(), deal, 1),
            lambda deal=deal: catalogue.deal_save(merchant=merchant, acting_user=owner, deal=deal, stock=4),
        )

        deal.refresh_from_db()
        assert deal.units_taken <= deal.stock
        if isinstance(edited, Invalid):  # the buyer came first: 5 taken, the stock cannot drop to 4
            assert edited.code == "stock_below_taken"
            assert (deal.units_taken, deal.stock) == (5, 5)
        else:  # the editor came first: the buyer finds it sold out
            assert getattr(bought, "code", None) == "sold_out"
            assert (deal.units_taken, deal.stock) == (4, 4)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deals_taken_off_sale_at_once_leave_has_deals_false(merchant, store, owner):
    for _round in range(5):
        first = catalogue.deal_save(merchant=merchant, acting_user=owner, store=store, **deal_fields())
        second = catalogue.deal_save(merchant=merchant, acting_user=owner, store=store, **deal_fields())

        results = race(
            lambda deal=first: catalogue.deal_set_active(deal=deal, is_active=False, acting_user=owner),
            lambda deal=second: catalogue.deal_set_active(deal=deal, is_active=False, acting_user=owner),
        )

        assert not [r for r in results if isinstance(r, Exception)]
        assert has_deals(store) is False
