"""Services with a weekly schedule, deals, and orders made through the services users trigger."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import factory

from merchants.models import CancellationPolicy, Deal, Service, ServiceDateRule, ServiceSchedule
from orders import services as order_services

from .merchants import StoreFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

# A fixed "now" for deterministic tests: Monday 3 June 2030, 09:00 in Shanghai.
NOW = dt.datetime(2030, 6, 3, 9, 0, tzinfo=SHANGHAI)


def local(year, month, day, hour=0, minute=0):
    """An aware datetime in the stores' time zone (the factories' city is Shanghai)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def at_day(now, days, hour, minute=0):
    """`hour:minute` local time, `days` after `now`'s local date."""
    date = now.astimezone(SHANGHAI).date() + dt.timedelta(days=days)
    return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=SHANGHAI)


class ServiceFactory(factory.django.DjangoModelFactory):
    """A bookable service, by default open every day with hourly slots from 10:00 to 20:00.

    `weekly=False` leaves it without a schedule; `weekly=[(weekday, "10:00", "12:00", 30), ...]`
    gives it exactly those rules.
    """

    class Meta:
        model = Service
        skip_postgeneration_save = True

    store = factory.SubFactory(StoreFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    price = Decimal("100.00")
    prepayment = Service.Prepayment.FULL
    deposit = Decimal("0.00")
    duration_minutes = 60
    capacity = 2
    capacity_per_person = False
    min_party = 1
    max_party = 4
    booking_window_days = 14
    min_notice_minutes = 60
    cancellation_policy = CancellationPolicy.FAIR

    @factory.post_generation
    def weekly(obj, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        rules = extracted or [(weekday, "10:00", "20:00", 60) for weekday in range(7)]
        ServiceSchedule.objects.bulk_create(
            ServiceSchedule(
                service=obj,
                weekday=weekday,
                starts=dt.time.fromisoformat(starts),
                ends=dt.time.fromisoformat(ends),
                slot_minutes=step,
            )
            for weekday, starts, ends, step in rules
        )


class ServiceDateRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceDateRule

    service = factory.SubFactory(ServiceFactory)
    date = dt.date(2030, 6, 4)
    kind = ServiceDateRule.Kind.CLOSED


class DealFactory(factory.django.DjangoModelFactory):
    """A group-buy deal on sale now with 10 units, at most 5 per person."""

    class Meta:
        model = Deal

    store = factory.SubFactory(StoreFactory)
    title = factory.Sequence(lambda n: f"Set menu for two #{n}")
    price = Decimal("88.00")
    original_price = Decimal("128.00")
    stock = 10
    per_user_limit = 5
    max_per_order = 10
    valid_days = 90


# --- orders, through the services ------------------------------------------------------


def deal_order(user, deal, quantity=1, *, now=None, paid=False):
    """What a buyer's "buy" (and, with `paid`, the payment notification) does."""
    order = order_services.order_create_for_deal(user=user, deal_id=deal.pk, quantity=quantity, now=now)
    if paid:
        assert order_services.order_mark_paid(order=order, now=now)
        order.refresh_from_db()
    return order


def booking_order(user, service, start, party_size=2, *, now=None, paid=False):
    """What a consumer's "book" (and, with `paid`, the payment notification) does."""
    order = order_services.order_create_for_booking(
        user=user, service_id=service.pk, start=start, party_size=party_size, now=now
    )
    if paid:
        assert order_services.order_mark_paid(order=order, now=now)
        order.refresh_from_db()
    return order


def pay_through_gateway(order, *, now=None):
    """Pay as a consumer does: start the payment, press "pay" on the sandbox's hosted page,
    and let the platform hear about it (the return page's sync, same effect as the notice)."""
    from payments.gateways.sandbox import sandbox_complete_charge
    from payments.models import SandboxCharge
    from payments.services import payment_start, payment_sync

    payment, _url = payment_start(
        order=order, user=order.user, build_url=lambda path: f"http://testserver{path}", now=now
    )
    if payment is not None:
        sandbox_complete_charge(SandboxCharge.objects.get(merchant_reference=payment.reference), succeed=True)
        payment_sync(payment=payment, now=now)
    order.refresh_from_db()
    assert order.status in (order.Status.PAID, order.Status.CONFIRMED), order.status
    return order
