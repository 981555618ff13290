"""In-store redemption, the services (orders/redemption.py, DESIGN §9 "Redemption"): look up,
confirm, every refusal with its reason, request-key replays, wrong-code limits and undo.

Orders are bought and paid through the sandbox gateway (tests.factories.payments), so the
vouchers are the ones the payment flow issues. Time is passed as `now`: the factories' NOW is
Monday 3 June 2030, 09:00 in Shanghai.

The helpers and fixtures at the top are shared with the API, console and race tests.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from coupons.models import Redemption, Voucher
from merchants.models import MerchantMember
from o2o import ratelimit
from o2o.codes import damm_digit
from o2o.errors import Busy, Conflict, Gone, Invalid, NotAllowed, NotFound
from o2o.models import AuditEvent
from orders import redemption as flow
from orders.models import Order, OrderEvent
from payments import services as payment_services
from tests.factories.catalogue import NOW, DealFactory, ServiceFactory, at_day
from tests.factories.merchants import MemberFactory, MerchantFactory, StoreFactory
from tests.factories.payments import paid_booking_order, paid_deal_order

pytestmark = pytest.mark.django_db

OWNER, MANAGER, CLERK = MerchantMember.Role.OWNER, MerchantMember.Role.MANAGER, MerchantMember.Role.CLERK
BOUGHT = NOW - dt.timedelta(days=1)  # Sunday 2 June 2030, 09:00
SATURDAY = NOW + dt.timedelta(days=5)  # 8 June 2030
EVERY_HOUR = [(weekday, "00:00", "23:00", 60) for weekday in range(7)]
NOT_FOUND = "No voucher with this code for your stores."


# --- shared helpers and fixtures ---------------------------------------------------------------


def well_formed(body):
    """A code with a correct check digit that no voucher has (the factories' codes are random)."""
    return body + str(damm_digit(body))


UNKNOWN_CODE = well_formed("12345678901")


def member_of(merchant, role=OWNER, stores=(), **kwargs):
    member = MemberFactory(merchant=merchant, role=role, **kwargs)
    if stores:
        member.stores.set(stores)
    return member


def buy(deal, quantity=1, *, user=None, now=BOUGHT):
    """A paid deal order (through the sandbox gateway) and its vouchers, oldest first."""
    from tests.factories.accounts import UserFactory

    order = paid_deal_order(user or UserFactory(display_name="Li Lei"), deal, quantity, now=now)
    return order, list(order.vouchers.order_by("pk"))


def book_today(service, *, user=None, hour=12, now=NOW):
    """A prepaid booking at `hour` on `now`'s day, made the day before; its voucher."""
    from tests.factories.accounts import UserFactory

    start = at_day(now, 0, hour)
    order = paid_booking_order(user or UserFactory(), service, start, party_size=3, now=start - dt.timedelta(days=1))
    return order, order.vouchers.get()


@pytest.fixture
def merchant():
    return MerchantFactory(name="Golden Wok")


@pytest.fixture
def store(merchant):
    return StoreFactory(merchant=merchant, name="Golden Wok Bund")


@pytest.fixture
def branch(merchant):
    return StoreFactory(merchant=merchant, name="Golden Wok Jing'an")


@pytest.fixture
def deal(store):
    return DealFactory(
        store=store,
        title="Hotpot for two",
        price=Decimal("99.00"),
        stock=50,
        per_user_limit=10,
        contents=[{"name": "Beef slices", "quantity": 2, "price": "38.00"}, {"name": "Soup base", "quantity": 1}],
    )


@pytest.fixture
def owner(merchant):
    return member_of(merchant, OWNER)


@pytest.fixture
def clerk(merchant, store):
    return member_of(merchant, CLERK, stores=[store])


@pytest.fixture
def other_merchant_clerk():
    other = MerchantFactory(name="Spicy Pot")
    return member_of(other, CLERK, stores=[StoreFactory(merchant=other, name="Spicy Pot Xuhui")])


def redeem(voucher, member, store, *, now=NOW, **kwargs):
    kwargs.setdefault("ip", "10.0.0.7")
    kwargs.setdefault("device", "CounterPad/1.0")
    return flow.voucher_redeem(code=voucher.code, member=member, store=store, now=now, **kwargs)


# --- lookup -------------------------------------------------------------------------------------


def test_lookup_shows_what_the_code_is_for_and_what_is_left(deal, store, clerk):
    # given an order of three units bought yesterday
    order, vouchers = buy(deal, 3)

    # when the clerk types the first code with spaces, as it is shown
    lookup = flow.voucher_lookup(code=vouchers[0].code_display, member=clerk, store=store, now=NOW)

    # then the screen can show the deal, its contents, whose it is, what is left, until when
    assert lookup.voucher == vouchers[0]
    assert lookup.kind == "deal" and lookup.title == "Hotpot for two"
    assert [item["name"] for item in lookup.contents] == ["Beef slices", "Soup base"]
    assert lookup.customer == "L***i"
    assert (lookup.units_left, lookup.units_total) == (3, 3)
    assert lookup.order == order
    assert lookup.valid_until == vouchers[0].valid_until
    assert lookup.booking is None and lookup.visit_left is None


def test_lookup_of_a_booking_shows_its_time_and_party(store, clerk):
    service = ServiceFactory(store=store, weekly=EVERY_HOUR, name="Private room")
    order, voucher = book_today(service, hour=12)

    lookup = flow.voucher_lookup(code=voucher.code, member=clerk, store=store, now=NOW)

    assert lookup.kind == "booking"
    assert lookup.booking == order.booking
    assert lookup.booking.party_size == 3
    assert lookup.local_start.hour == 12
    assert (lookup.units_left, lookup.units_total) == (1, 1)


def test_lookup_accepts_full_width_digits_and_dashes(deal, store, clerk):
    _order, (voucher,) = buy(deal)
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in voucher.code)

    assert flow.voucher_lookup(code=full_width, member=clerk, store=store, now=NOW).voucher == voucher
    dashed = "-".join(voucher.code[i : i + 4] for i in range(0, 12, 4))
    assert flow.voucher_lookup(code=dashed, member=clerk, store=store, now=NOW).voucher == voucher


@pytest.mark.parametrize("raw", ["", "   ", "abc", "²" * 12, "1" * 65, None])
def test_lookup_refuses_what_is_not_a_code_without_an_error(raw, store, clerk):
    with pytest.raises(Invalid) as refused:
        flow.voucher_lookup(code=raw, member=clerk, store=store, now=NOW)
    assert refused.value.code in ("code_required", "malformed_code")
    assert refused.value.field == "code"


def test_a_mistyped_digit_is_caught_by_the_check_digit(deal, store, clerk):
    _order, (voucher,) = buy(deal)
    typo = voucher.code[:5] + str((int(voucher.code[5]) + 1) % 10) + voucher.code[6:]

    with pytest.raises(Invalid) as refused:
        flow.voucher_lookup(code=typo, member=clerk, store=store, now=NOW)

    assert refused.value.code == "malformed_code"


# --- confirm --------------------------------------------------------------------------------------


def test_redeem_marks_the_voucher_used_and_records_who_where_and_how(deal, store, clerk):
    order, vouchers = buy(deal, 2)

    redemption = redeem(vouchers[0], clerk, store, device="Mozilla/5.0 (iPad)")

    vouchers[0].refresh_from_db()
    assert vouchers[0].status == Voucher.Status.REDEEMED
    assert vouchers[0].redeemed_at == NOW
    assert redemption.replayed is False
    assert (redemption.store, redemption.redeemed_by, redemption.redeemed_at) == (store, clerk.user, NOW)
    assert (redemption.ip, redemption.device, redemption.merchant_id) == (
        "10.0.0.7",
        "Mozilla/5.0 (iPad)",
        store.merchant_id,
    )
    event = AuditEvent.objects.get(action="voucher.redeemed")
    assert event.actor == clerk.user and event.ip == "10.0.0.7"
    assert event.content_type == ContentType.objects.get_for_model(Redemption)
    assert event.data["store"] == store.pk and event.data["device"] == "Mozilla/5.0 (iPad)"
    # one unit left: the order is still paid
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_redeeming_the_last_voucher_completes_the_order(deal, store, clerk):
    order, vouchers = buy(deal, 2)
    payment_services.vouchers_refund(order=order, user=order.user, voucher_ids=[vouchers[1].pk], now=NOW)

    redeem(vouchers[0], clerk, store)

    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.completed_at == NOW


def test_redeeming_a_booking_voucher_checks_the_guests_in(store, clerk):
    service = ServiceFactory(store=store, weekly=EVERY_HOUR)
    order, voucher = book_today(service, hour=12)

    redeem(voucher, clerk, store)

    order.refresh_from_db()
    assert order.status == Order.Status.CHECKED_IN
    assert order.booking.checked_in_at == NOW


def test_a_booking_already_checked_in_on_the_bookings_page_can_still_be_verified(store, clerk):
    from orders import services as order_services

    service = ServiceFactory(store=store, weekly=EVERY_HOUR)
    order, voucher = book_today(service, hour=12)
    order_services.booking_check_in(order=order, actor=clerk.user, now=NOW)

    redeem(voucher, clerk, store)

    order.refresh_from_db()
    assert order.status == Order.Status.CHECKED_IN
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.REDEEMED


def test_an_address_that_is_not_an_ip_is_not_recorded(deal, store, clerk):
    _order, (voucher,) = buy(deal)

    redemption = redeem(voucher, clerk, store, ip="unknown")

    assert redemption.ip is None


# --- refusals, each with its reason ------------------------------------------------------------------


def test_an_unknown_code_is_not_found(store, clerk):
    with pytest.raises(NotFound) as refused:
        flow.voucher_lookup(code=UNKNOWN_CODE, member=clerk, store=store, now=NOW)
    assert (refused.value.message, refused.value.code) == (NOT_FOUND, "unknown_code")


def test_another_merchants_code_gets_exactly_the_unknown_codes_answer(deal, other_merchant_clerk):
    _order, (voucher,) = buy(deal)
    their_store = other_merchant_clerk.stores.get()

    with pytest.raises(NotFound) as existing:
        flow.voucher_redeem(code=voucher.code, member=other_merchant_clerk, store=their_store, now=NOW)
    with pytest.raises(NotFound) as unknown:
        flow.voucher_redeem(code=UNKNOWN_CODE, member=other_merchant_clerk, store=their_store, now=NOW)

    assert vars(existing.value) == vars(unknown.value)
    assert str(existing.value) == str(unknown.value) == NOT_FOUND
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.VALID


def test_a_used_voucher_is_refused_saying_when_and_where(deal, store, branch, owner):
    deal.usable_stores.set([store, branch])
    _order, (voucher,) = buy(deal)
    redeem(voucher, owner, store, now=NOW + dt.timedelta(hours=5))  # 14:00

    with pytest.raises(Conflict) as refused:
        redeem(voucher, owner, branch, now=NOW + dt.timedelta(hours=6))

    assert refused.value.code == "already_used"
    assert "2030-06-03 14:00" in refused.value.message and "Golden Wok Bund" in refused.value.message
    assert refused.value.extra["redeemed_store"] == {"id": store.pk, "name": "Golden Wok Bund"}
    assert Redemption.objects.count() == 1


def test_a_refunded_voucher_is_gone(deal, store, clerk):
    order, (voucher,) = buy(deal)
    payment_services.vouchers_refund(order=order, user=order.user, now=NOW)

    with pytest.raises(Gone) as refused:
        flow.voucher_lookup(code=voucher.code, member=clerk, store=store, now=NOW)

    assert refused.value.code == "refunded"


def test_a_voucher_past_its_validity_is_gone_even_before_the_expiry_job(store, clerk):
    deal = DealFactory(store=store, valid_days=3)
    _order, (voucher,) = buy(deal)

    with pytest.raises(Gone) as refused:
        flow.voucher_lookup(code=voucher.code, member=clerk, store=store, now=BOUGHT + dt.timedelta(days=4))

    assert refused.value.code == "expired"
    assert "2030-06-05" in refused.value.message


def test_a_voucher_is_not_usable_before_it_is_valid(deal, store, clerk):
    _order, (voucher,) = buy(deal)

    with pytest.raises(Invalid) as refused:
        flow.voucher_lookup(code=voucher.code, member=clerk, store=store, now=BOUGHT - dt.timedelta(hours=1))

    assert refused.value.code == "not_yet_valid"


def test_a_deal_voucher_is_refused_at_a_store_where_it_is_not_usable(deal, store, branch, owner):
    _order, (voucher,) = buy(deal)

    with pytest.raises(Invalid) as refused:
        flow.voucher_lookup(code=voucher.code, member=owner, store=branch, now=NOW)

    assert refused.value.code == "not_usable_here"
    assert "Golden Wok Bund" in refused.value.message  # where it can be used

    # once the merchant lists the branch among the deal's stores, it is usable there
    deal.usable_stores.set([store, branch])
    assert redeem(voucher, owner, branch).store == branch


def test_a_weekdays_only_deal_is_refused_on_a_weekend(store, clerk):
    deal = DealFactory(store=store, weekdays_only=True)
    _order, (voucher,) = buy(deal)

    with pytest.raises(Invalid) as refused:
        flow.voucher_lookup(code=voucher.code, member=clerk, store=store, now=SATURDAY)

    assert refused.value.code == "weekdays_only"
    assert redeem(voucher, clerk, store, now=NOW)  # Monday


def test_max_per_visit_limits_the_units_used_in_one_day(store, clerk):
    deal = DealFactory(store=store, max_per_visit=2)
    _order, vouchers = buy(deal, 3)
    first = flow.voucher_lookup(code=vouchers[0].code, member=clerk, store=store, now=NOW)
    assert first.visit_left == 2
    redeem(vouchers[0], clerk, store)
    redeem(vouchers[1], clerk, store, now=NOW + dt.timedelta(minutes=1))

    with pytest.raises(Invalid) as refused:
        redeem(vouchers[2], clerk, store, now=NOW + dt.timedelta(minutes=2))

    assert refused.value.code == "max_per_visit"
    # the next day is another visit
    assert redeem(vouchers[2], clerk, store, now=NOW + dt.timedelta(days=1))


def test_a_booking_is_verified_on_its_day_only(store, clerk):
    service = ServiceFactory(store=store, weekly=EVERY_HOUR)
    _order, voucher = book_today(service, hour=12, now=NOW + dt.timedelta(days=1))

    with pytest.raises(Invalid) as refused:
        # 22:00 the evening before: inside the voucher's window, not the booking's day
        flow.voucher_lookup(code=voucher.code, member=clerk, store=store, now=NOW + dt.timedelta(hours=13))

    assert refused.value.code == "booking_not_today"
    assert "2030-06-04 12:00" in refused.value.message


def test_a_clerk_cannot_redeem_at_a_store_they_are_not_assigned_to(deal, store, branch, clerk):
    deal.usable_stores.set([store, branch])
    _order, (voucher,) = buy(deal)

    with pytest.raises(Invalid) as refused:
        redeem(voucher, clerk, branch)

    assert (refused.value.code, refused.value.field) == ("unknown_store", "store")
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.VALID
    assert flow.store_for_member(clerk, store.pk) == store
    with pytest.raises(Invalid):
        flow.store_for_member(clerk, branch.pk)
    with pytest.raises(Invalid):
        flow.store_for_member(clerk, "not a number")


def test_a_live_redemption_the_locks_missed_is_still_refused_by_the_database(deal, store, clerk):
    # given a standing redemption although the voucher row says valid (as if a writer had
    # bypassed the flow's locks)
    _order, (voucher,) = buy(deal)
    Redemption.objects.create(voucher=voucher, merchant=store.merchant, store=store, redeemed_by=clerk.user)

    # when it is confirmed, the partial unique constraint answers
    with pytest.raises(Conflict) as refused:
        redeem(voucher, clerk, store)

    # then the answer is "already used", not an error page
    assert refused.value.code == "already_used"
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.VALID


# --- request keys -----------------------------------------------------------------------------------------


def test_a_repeated_request_key_returns_the_first_redemption(deal, store, clerk):
    _order, vouchers = buy(deal, 2)

    first = redeem(vouchers[0], clerk, store, request_key="tap-1")
    again = redeem(vouchers[0], clerk, store, request_key="tap-1", now=NOW + dt.timedelta(seconds=2))

    assert again.pk == first.pk
    assert (first.replayed, again.replayed) == (False, True)
    assert again.redeemed_at == NOW
    assert Redemption.objects.count() == 1
    assert AuditEvent.objects.filter(action="voucher.redeemed").count() == 1


def test_without_a_request_key_a_second_confirm_is_already_used(deal, store, clerk):
    _order, (voucher,) = buy(deal)
    redeem(voucher, clerk, store)

    with pytest.raises(Conflict):
        redeem(voucher, clerk, store)


def test_a_request_key_reused_for_another_code_is_refused(deal, store, clerk):
    _order, vouchers = buy(deal, 2)
    redeem(vouchers[0], clerk, store, request_key="tap-1")

    with pytest.raises(Invalid) as refused:
        redeem(vouchers[1], clerk, store, request_key="tap-1")

    assert refused.value.code == "request_key_reused"
    assert Voucher.objects.get(pk=vouchers[1].pk).status == Voucher.Status.VALID


def test_the_same_request_key_of_two_people_is_two_requests(deal, store, clerk, owner):
    _order, vouchers = buy(deal, 2)

    redeem(vouchers[0], clerk, store, request_key="k")
    redeem(vouchers[1], owner, store, request_key="k")

    assert Redemption.objects.count() == 2


# --- wrong-code limits -------------------------------------------------------------------------------------


def wrong_codes(member, store, n, *, start=0):
    for i in range(start, start + n):
        with pytest.raises(NotFound):
            flow.voucher_lookup(code=well_formed(f"{90000000000 + i}"), member=member, store=store, now=NOW)


def test_a_member_is_stopped_after_ten_wrong_codes_even_for_a_right_one(deal, store, clerk):
    _order, (voucher,) = buy(deal)
    wrong_codes(clerk, store, 10)

    with pytest.raises(Busy) as refused:
        flow.voucher_lookup(code=voucher.code, member=clerk, store=store, now=NOW)
    with pytest.raises(Busy):
        redeem(voucher, clerk, store)

    assert refused.value.code == "too_many_wrong_codes"
    assert "Wait" in refused.value.message and "minute" in refused.value.message
    assert 0 < refused.value.retry_after <= 600
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.VALID


def test_malformed_codes_do_not_count_as_guesses(deal, store, clerk):
    _order, (voucher,) = buy(deal)
    for _i in range(15):
        with pytest.raises(Invalid):
            flow.voucher_lookup(code="1234 5678 9999", member=clerk, store=store, now=NOW)

    assert flow.voucher_lookup(code=voucher.code, member=clerk, store=store, now=NOW).voucher == voucher


def test_the_store_limit_is_shared_by_everyone_at_the_store(settings, merchant, deal, store):
    # given a store limit of 5 and three clerks at the same counter
    settings.REDEMPTION_WRONG_CODES_PER_STORE = 5
    _order, (voucher,) = buy(deal)
    first, second, third = (member_of(merchant, CLERK, stores=[store]) for _i in range(3))

    # when two of them type five wrong codes between them
    wrong_codes(first, store, 3)
    wrong_codes(second, store, 2, start=3)

    # then the count lives in the shared cache, and the third clerk is stopped too
    window = flow.REDEMPTION_WRONG_CODES_WINDOW_SECONDS
    assert ratelimit.peek("redeem-store", store.pk, limit=5, window_seconds=window).count == 5
    with pytest.raises(Busy):
        flow.voucher_lookup(code=voucher.code, member=third, store=store, now=NOW)


def test_wrong_codes_at_one_store_do_not_stop_another(settings, merchant, deal, store, branch):
    settings.REDEMPTION_WRONG_CODES_PER_STORE = 3
    owner = member_of(merchant, OWNER)
    deal.usable_stores.set([store, branch])
    _order, (voucher,) = buy(deal)
    wrong_codes(member_of(merchant, CLERK, stores=[store]), store, 3)

    assert flow.voucher_lookup(code=voucher.code, member=owner, store=branch, now=NOW).voucher == voucher


def test_a_guess_of_another_merchants_code_counts_as_a_wrong_code(settings, deal, other_merchant_clerk):
    settings.REDEMPTION_WRONG_CODES_PER_MEMBER = 1
    _order, (voucher,) = buy(deal)
    their_store = other_merchant_clerk.stores.get()

    with pytest.raises(NotFound):
        flow.voucher_lookup(code=voucher.code, member=other_merchant_clerk, store=their_store, now=NOW)
    with pytest.raises(Busy):
        flow.voucher_lookup(code=UNKNOWN_CODE, member=other_merchant_clerk, store=their_store, now=NOW)


# --- undo ----------------------------------------------------------------------------------------------------


def test_undo_within_the_hour_makes_the_voucher_usable_and_reopens_the_order(deal, store, clerk):
    # given the only voucher of an order, redeemed: the order completed
    order, (voucher,) = buy(deal)
    redemption = redeem(voucher, clerk, store)
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED

    # when the clerk who did it undoes it 59 minutes later
    later = NOW + dt.timedelta(minutes=59)
    flow.redemption_undo(redemption=redemption, member=clerk, reason="Wrong customer", ip="10.0.0.8", now=later)

    # then the voucher is valid again, the order paid, and both are on record
    voucher.refresh_from_db()
    redemption.refresh_from_db()
    order.refresh_from_db()
    assert (voucher.status, voucher.redeemed_at) == (Voucher.Status.VALID, None)
    assert (redemption.undone_at, redemption.undone_by, redemption.undo_reason) == (later, clerk.user, "Wrong customer")
    assert (order.status, order.completed_at) == (Order.Status.PAID, None)
    assert OrderEvent.objects.filter(order=order, from_status="completed", to_status="paid").exists()
    assert AuditEvent.objects.get(action="voucher.redemption_undone").ip == "10.0.0.8"
    # and it can be redeemed again
    assert redeem(voucher, clerk, store, now=later + dt.timedelta(minutes=1)).pk != redemption.pk


def test_undo_after_61_minutes_is_refused(deal, store, clerk):
    _order, (voucher,) = buy(deal)
    redemption = redeem(voucher, clerk, store)

    with pytest.raises(Conflict) as refused:
        flow.redemption_undo(redemption=redemption, member=clerk, reason="Late", now=NOW + dt.timedelta(minutes=61))

    assert refused.value.code == "undo_window_passed"
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.REDEEMED


def test_a_settled_redemption_cannot_be_undone(deal, store, owner):
    _order, (voucher,) = buy(deal)
    redemption = redeem(voucher, owner, store)
    # Settlement is not built yet; it will set settled_at on what it pays out.
    Redemption.objects.filter(pk=redemption.pk).update(settled_at=NOW + dt.timedelta(minutes=5))

    with pytest.raises(Conflict) as refused:
        flow.redemption_undo(redemption=redemption, member=owner, reason="Oops", now=NOW + dt.timedelta(minutes=10))

    assert refused.value.code == "settled"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_undo_needs_a_reason(reason, deal, store, clerk):
    _order, (voucher,) = buy(deal)
    redemption = redeem(voucher, clerk, store)

    with pytest.raises(Invalid) as refused:
        flow.redemption_undo(redemption=redemption, member=clerk, reason=reason, now=NOW)

    assert (refused.value.code, refused.value.field) == ("reason_required", "reason")


def test_another_clerk_may_not_undo_but_a_manager_may(merchant, deal, store, clerk):
    _order, (voucher,) = buy(deal)
    redemption = redeem(voucher, clerk, store)
    colleague = member_of(merchant, CLERK, stores=[store])
    manager = member_of(merchant, MANAGER)

    with pytest.raises(NotAllowed):
        flow.redemption_undo(redemption=redemption, member=colleague, reason="Not mine", now=NOW)
    flow.redemption_undo(redemption=redemption, member=manager, reason="Clerk asked", now=NOW)

    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.VALID


def test_another_merchants_staff_cannot_see_or_undo_a_redemption(deal, store, clerk, other_merchant_clerk):
    _order, (voucher,) = buy(deal)
    redemption = redeem(voucher, clerk, store)

    with pytest.raises(NotFound):
        flow.redemption_undo(redemption=redemption, member=other_merchant_clerk, reason="x", now=NOW)
    with pytest.raises(NotFound):
        flow.redemption_for_member(other_merchant_clerk, redemption.pk)


def test_undoing_twice_changes_nothing_the_second_time(deal, store, clerk):
    _order, (voucher,) = buy(deal)
    redemption = redeem(voucher, clerk, store)
    flow.redemption_undo(redemption=redemption, member=clerk, reason="First", now=NOW + dt.timedelta(minutes=1))

    again = flow.redemption_undo(
        redemption=redemption, member=clerk, reason="Second", now=NOW + dt.timedelta(minutes=2)
    )

    assert again.undo_reason == "First"
    assert AuditEvent.objects.filter(action="voucher.redemption_undone").count() == 1


def test_a_booking_check_in_is_not_undone(store, clerk):
    service = ServiceFactory(store=store, weekly=EVERY_HOUR)
    order, voucher = book_today(service)
    redemption = redeem(voucher, clerk, store)

    with pytest.raises(Conflict) as refused:
        flow.redemption_undo(redemption=redemption, member=clerk, reason="Wrong table", now=NOW)

    assert refused.value.code == "booking_undo_refused"
    order.refresh_from_db()
    assert order.status == Order.Status.CHECKED_IN


# --- history -------------------------------------------------------------------------------------------------


def test_history_is_scoped_to_the_members_stores_and_filters(merchant, deal, store, branch, clerk, owner):
    deal.usable_stores.set([store, branch])
    _order, vouchers = buy(deal, 3)
    at_store = redeem(vouchers[0], clerk, store)
    at_branch = redeem(vouchers[1], owner, branch, now=NOW + dt.timedelta(days=1))
    undone = redeem(vouchers[2], owner, store, now=NOW + dt.timedelta(days=1))
    flow.redemption_undo(redemption=undone, member=owner, reason="Test", now=NOW + dt.timedelta(days=1))

    assert list(flow.redemptions_for_member(owner)) == [undone, at_branch, at_store]
    assert set(flow.redemptions_for_member(clerk)) == {at_store, undone}
    assert list(flow.redemptions_for_member(owner, store=branch)) == [at_branch]
    assert list(flow.redemptions_for_member(owner, status="undone")) == [undone]
    assert list(flow.redemptions_for_member(owner, status="live", redeemed_by=owner.user_id)) == [at_branch]
    day = NOW.date()
    assert list(flow.redemptions_for_member(owner, date_from=day, date_to=day)) == [at_store]


def test_the_consumer_is_told_their_voucher_was_used_once(deal, store, clerk, django_capture_on_commit_callbacks):
    from notifications.models import Notification

    order, (voucher,) = buy(deal)

    with django_capture_on_commit_callbacks(execute=True):
        redeem(voucher, clerk, store, request_key="k")
        redeem(voucher, clerk, store, request_key="k")  # a replay tells nobody again

    notes = Notification.objects.filter(user=order.user, kind="voucher_redeemed")
    assert notes.count() == 1
    assert "Golden Wok Bund" in notes.get().body and voucher.code_display in notes.get().body
    assert notes.get().link == order.get_absolute_url()


def test_a_refused_confirm_tells_nobody(deal, store, clerk):
    from notifications.models import Notification

    _order, (voucher,) = buy(deal)

    with pytest.raises(Invalid):
        redeem(voucher, clerk, store, now=BOUGHT - dt.timedelta(hours=1))

    assert not Notification.objects.filter(kind="voucher_redeemed").exists()
