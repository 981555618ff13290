"""The events wired into the flows that already exist: who hears what, once, in their language."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail

from merchants import services as merchant_services
from merchants.models import MerchantMember
from notifications.models import Notification
from orders import services as order_services
from orders.tasks import booking_reminders_task, bookings_remind_due
from payments import services as payment_services
from payments.models import Refund
from payments.tasks import voucher_expiry_reminders_task, vouchers_remind_expiring
from tests.factories.catalogue import NOW, DealFactory, ServiceFactory, at_day
from tests.factories.merchants import CategoryFactory, MemberFactory, MerchantFactory, StoreFactory
from tests.factories.payments import paid_booking_order, paid_deal_order, pay
from tests.merchants.test_onboarding import apply_via_service

pytestmark = pytest.mark.django_db


def kinds_for(user):
    return sorted(Notification.objects.filter(user=user).values_list("kind", flat=True))


@pytest.fixture(autouse=True)
def _one_gateway_delivery(settings):
    settings.SANDBOX_DUPLICATE_RATE = 0


@pytest.fixture
def shop(user_factory):
    """A merchant with an owner (Chinese), a manager (English) and a clerk, and one store."""
    merchant = MerchantFactory()
    people = {
        role: MemberFactory(merchant=merchant, role=role, user=user_factory(language=language)).user
        for role, language in [("owner", "zh-hans"), ("manager", "en"), ("clerk", "en")]
    }
    return {"merchant": merchant, "store": StoreFactory(merchant=merchant, name="老王火锅"), **people}


# --- merchants ----------------------------------------------------------------------------------------


def test_approving_an_application_notifies_the_applicant(admin_user, user_factory, run_on_commit):
    applicant = user_factory(language="zh-hans")
    application = apply_via_service(applicant, CategoryFactory(), name="阿达面馆")

    with run_on_commit():
        merchant_services.merchant_application_approve(application=application, acting_user=admin_user)
        merchant_services.merchant_application_approve(application=application, acting_user=admin_user)

    note = Notification.objects.get(user=applicant)
    assert (note.kind, note.link) == ("merchant_application_approved", "/merchant/")
    assert note.title == "入驻申请已通过：阿达面馆"
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == note.title


def test_rejecting_an_application_tells_the_applicant_why(admin_user, user_factory):
    applicant = user_factory(language="en")
    application = apply_via_service(applicant, CategoryFactory())

    merchant_services.merchant_application_reject(
        application=application, reason="The licence is unreadable", acting_user=admin_user
    )

    note = Notification.objects.get(user=applicant)
    assert note.kind == "merchant_application_rejected"
    assert "Reason: The licence is unreadable." in note.body
    assert note.link == "/merchants/apply/"


# --- paying --------------------------------------------------------------------------------------------


def test_a_paid_order_notifies_the_consumer_and_the_merchants_owner_and_manager(
    client, user_factory, shop, run_on_commit
):
    # given an order paid on the sandbox gateway's hosted page, as a consumer does it
    buyer = user_factory(language="en")
    deal = DealFactory(store=shop["store"], title="Hotpot for two", price=Decimal("99.00"))
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=2)
    client.force_login(buyer)
    pay_url = client.post(f"/orders/{order.number}/pay/").url

    with run_on_commit():
        client.post(pay_url, {"outcome": "succeed"})

    # then the consumer has a receipt in English and the owner a new order in Chinese
    receipt = Notification.objects.get(user=buyer)
    assert receipt.kind == "order_paid"
    assert receipt.title == "Payment received: 老王火锅"
    assert "You paid ¥198.00" in receipt.body and receipt.link == order.get_absolute_url()
    for_owner = Notification.objects.get(user=shop["owner"])
    assert (for_owner.kind, for_owner.title) == ("order_paid_merchant", "新订单：Hotpot for two × 2")
    assert buyer.masked_name in for_owner.body
    assert kinds_for(shop["manager"]) == ["order_paid_merchant"]
    assert kinds_for(shop["clerk"]) == []  # clerks verify codes; orders are the managers'
    assert {m.to[0] for m in mail.outbox} == {buyer.email, shop["owner"].email, shop["manager"].email}


def test_a_payment_notified_three_times_tells_everyone_once(user_factory, shop, run_on_commit):
    buyer = user_factory()
    deal = DealFactory(store=shop["store"])
    order = order_services.order_create_for_deal(user=buyer, deal_id=deal.pk, quantity=1)

    with run_on_commit():
        pay(order, deliveries=3)

    assert Notification.objects.count() == 3  # consumer, owner, manager
    assert len(mail.outbox) == 3


def test_a_paid_booking_is_confirmed_to_the_consumer_and_announced_to_the_merchant(user_factory, shop):
    buyer = user_factory(language="zh-hans")
    service = ServiceFactory(store=shop["store"], name="双人按摩", price=Decimal("100.00"))

    order = paid_booking_order(buyer, service, at_day(NOW, 3, 12), now=NOW)

    confirmed = Notification.objects.get(user=buyer)
    assert confirmed.kind == "booking_confirmed"
    assert confirmed.title == "预订成功：老王火锅 6月6日 12:00"
    new_booking = Notification.objects.get(user=shop["manager"])
    assert new_booking.kind == "booking_confirmed_merchant"
    assert new_booking.title == "New booking: Thu 6 Jun, 12:00, party of 2"
    assert new_booking.link == "/merchant/bookings/?date=2030-06-06"
    assert order.status == order.Status.CONFIRMED


# --- bookings cancelled and missed ---------------------------------------------------------------------


@pytest.fixture
def booked(user_factory, shop):
    buyer = user_factory(language="en")
    service = ServiceFactory(store=shop["store"], name="Massage", price=Decimal("100.00"))
    order = paid_booking_order(buyer, service, at_day(NOW, 3, 12), now=NOW)
    Notification.objects.all().delete()  # the confirmations: not what these tests look at
    return order


def test_a_consumer_cancellation_tells_the_merchant(booked, shop):
    payment_services.booking_cancel_and_refund(order=booked, user=booked.user, now=NOW)

    assert kinds_for(booked.user) == []
    note = Notification.objects.get(user=shop["owner"])
    assert note.kind == "booking_cancelled_by_consumer"
    assert note.title == "预订已被顾客取消：6月6日 12:00"


def test_a_merchant_cancellation_tells_the_consumer_with_the_reason_and_refund(booked, shop):
    payment_services.booking_cancel_by_merchant_and_refund(
        order=booked, actor=shop["owner"], reason="Kitchen flooded", now=NOW
    )

    note = Notification.objects.get(user=booked.user)
    assert note.kind == "booking_cancelled_by_merchant"
    assert "Reason: Kitchen flooded." in note.body and "¥100.00 is refunded in full" in note.body
    assert kinds_for(shop["owner"]) == []


def test_a_no_show_tells_the_consumer_what_was_kept(booked, shop):
    payment_services.booking_no_show_and_refund(
        order=booked, actor=shop["owner"], now=booked.booking.start + dt.timedelta(hours=1)
    )

    note = Notification.objects.get(user=booked.user)
    assert note.kind == "booking_no_show"
    assert "the merchant keeps ¥30.00" in note.body and "remaining ¥70.00" in note.body


# --- refunds ------------------------------------------------------------------------------------------------


def test_a_refund_that_reaches_the_payer_is_announced_once(user_factory, run_on_commit):
    buyer = user_factory(language="en")
    order = paid_deal_order(buyer, DealFactory(price=Decimal("88.00")), 2)

    with run_on_commit():
        refund = payment_services.vouchers_refund(order=order, user=buyer)
    payment_services.refund_execute(refund_id=refund.pk)  # run again: a retry or the sweep

    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    note = Notification.objects.get(user=buyer, kind="refund_done")
    assert note.title == "Refund completed: ¥176.00"


def test_expired_vouchers_refunded_automatically_are_announced(user_factory, run_on_commit):
    buyer = user_factory(language="zh-hans")
    order = paid_deal_order(buyer, DealFactory(title="双人套餐", price=Decimal("50.00"), valid_days=2), 3, now=NOW)
    after_expiry = order.vouchers.first().valid_until + dt.timedelta(seconds=1)

    with run_on_commit():
        payment_services.vouchers_expire_and_refund(now=after_expiry)
    payment_services.vouchers_expire_and_refund(now=after_expiry)

    note = Notification.objects.get(user=buyer, kind="voucher_auto_refunded")
    assert note.body == "您的 3 张「双人套餐」券已过期未使用，¥150.00 正在自动退回原支付方式。"
    assert kinds_for(buyer) == ["order_paid", "refund_done", "voucher_auto_refunded"]


# --- periodic reminders -------------------------------------------------------------------------------------


def test_a_confirmed_booking_is_reminded_once_two_hours_before(booked):
    start = booked.booking.start

    assert bookings_remind_due(now=start - dt.timedelta(hours=2, minutes=1)) == 0
    assert bookings_remind_due(now=start - dt.timedelta(hours=1, minutes=55)) == 1
    assert bookings_remind_due(now=start - dt.timedelta(hours=1, minutes=45)) == 0

    note = Notification.objects.get(user=booked.user)
    assert (note.kind, note.title) == ("booking_reminder", "Reminder: 老王火锅, Thu 6 Jun, 12:00")
    assert "Address: 1 Nanjing Road." in note.body


def test_a_cancelled_booking_gets_no_reminder(booked):
    payment_services.booking_cancel_and_refund(order=booked, user=booked.user, now=NOW)

    assert bookings_remind_due(now=booked.booking.start - dt.timedelta(hours=1)) == 0


def test_a_booking_made_inside_the_window_is_not_reminded(user_factory, shop):
    start = at_day(NOW, 0, 12)
    paid_booking_order(user_factory(), ServiceFactory(store=shop["store"]), start, now=start - dt.timedelta(minutes=90))

    assert bookings_remind_due(now=start - dt.timedelta(minutes=80)) == 0


def test_the_reminder_task_runs(booked, monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: booked.booking.start - dt.timedelta(hours=1))

    assert booking_reminders_task.delay().get() == 1


def test_vouchers_expiring_within_three_days_are_reminded_once_per_order(user_factory, monkeypatch):
    buyer = user_factory(language="en")
    order = paid_deal_order(buyer, DealFactory(title="Set menu", valid_days=5), 2, now=NOW)
    valid_until = order.vouchers.first().valid_until
    Notification.objects.all().delete()

    assert vouchers_remind_expiring(now=valid_until - dt.timedelta(days=3, minutes=1)) == 0
    assert vouchers_remind_expiring(now=valid_until - dt.timedelta(days=2)) == 1
    assert vouchers_remind_expiring(now=valid_until - dt.timedelta(days=1)) == 0

    note = Notification.objects.get(user=buyer)
    assert note.kind == "voucher_expiring"
    assert note.title == "2 vouchers expire soon: Set menu"
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: valid_until - dt.timedelta(days=1))
    assert voucher_expiry_reminders_task.delay().get() == 0


def test_a_clerk_only_merchant_still_notifies_the_consumer(user_factory):
    merchant = MerchantFactory()
    MemberFactory(merchant=merchant, role=MerchantMember.Role.CLERK)
    buyer = user_factory()

    paid_deal_order(buyer, DealFactory(store=StoreFactory(merchant=merchant)))

    assert Notification.objects.get().user == buyer


def test_a_manager_of_another_store_is_not_told_about_this_ones_orders(user_factory, shop):
    other_store = StoreFactory(merchant=shop["merchant"])
    elsewhere = MemberFactory(merchant=shop["merchant"], role=MerchantMember.Role.MANAGER, user=user_factory())
    elsewhere.stores.set([other_store])
    here = MemberFactory(merchant=shop["merchant"], role=MerchantMember.Role.MANAGER, user=user_factory())
    here.stores.set([shop["store"]])

    paid_deal_order(user_factory(), DealFactory(store=shop["store"]))

    assert kinds_for(elsewhere.user) == []
    assert kinds_for(here.user) == ["order_paid_merchant"]
    assert kinds_for(shop["owner"]) == ["order_paid_merchant"]
