"""The catalogue editors in the merchant console: services, their schedules, and deals."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from merchants.catalogue_forms import (
    format_contents,
    parse_contents,
    parse_slot_rule,
    parse_slot_rules,
    policy_terms_text,
)
from merchants.models import CancellationPolicy, Deal, MerchantMember, Service, ServiceDateRule, ServiceSchedule
from tests.factories.catalogue import DealFactory, ServiceFactory
from tests.factories.merchants import CityFactory, MemberFactory, MerchantFactory, StoreFactory

pytestmark = pytest.mark.django_db

OWNER, MANAGER, CLERK = MerchantMember.Role.OWNER, MerchantMember.Role.MANAGER, MerchantMember.Role.CLERK
T = dt.time


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("11:00-20:00/30", (T(11), T(20), 30)),
        ("9:00 - 12:00", (T(9), T(12), 30)),
        ("11：00～14：00/45", (T(11), T(14), 45)),
        ("18:00-18:00/60", (T(18), T(18), 60)),
        ("10.00 to 22.00 / 90 min", (T(10), T(22), 90)),
    ],
)
def test_a_slot_rule_is_first_slot_last_slot_and_minutes_apart(text, rule):
    assert parse_slot_rule(text) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("11:00", "is not a slot rule"),
        ("eleven-12:00/30", "“eleven” is not a time"),
        ("11:00-24:00/30", "is not a time of the day"),
        ("25:00-26:00", "is not a time of the day"),
        ("20:00-11:00/30", "the last slot is before the first"),
        ("11:00-12:00/0", "5 to 1440 minutes apart"),
        ("11:00-12:00/abc", "5 to 1440 minutes apart"),
    ],
)
def test_a_bad_slot_rule_says_what_is_wrong(text, message):
    with pytest.raises(ValidationError) as info:
        parse_slot_rule(text)
    assert message in " ".join(info.value.messages)


def test_a_day_takes_several_rules_separated_by_commas_or_lines():
    assert parse_slot_rules("17:00-20:00/30, 11:00-13:00/30\n11:00-13:00/30") == [
        (T(11), T(13), 30),
        (T(17), T(20), 30),
    ]
    assert parse_slot_rules("  ") == []


def test_every_bad_rule_of_a_day_is_reported():
    with pytest.raises(ValidationError) as info:
        parse_slot_rules("11:00-10:00/30, nonsense")
    assert len(info.value.messages) == 2


def test_deal_contents_are_read_one_item_a_line():
    items = parse_contents("Beef hotpot for two × 1  168\nSoft drink x2 ¥16.5\nDessert 0\n\n")
    assert items == [
        {"name": "Beef hotpot for two", "quantity": 1, "price": Decimal("168")},
        {"name": "Soft drink", "quantity": 2, "price": Decimal("16.5")},
        {"name": "Dessert", "quantity": 1, "price": Decimal("0")},
    ]
    assert parse_contents(format_contents([{"name": "Tea", "quantity": 3, "price": "9.00"}])) == [
        {"name": "Tea", "quantity": 3, "price": Decimal("9.00")}
    ]


def test_a_content_line_without_a_price_is_refused_with_its_number():
    with pytest.raises(ValidationError) as info:
        parse_contents("Beef × 1  168\nSoft drink × 2")
    assert "Line 2" in info.value.messages[0]


def test_presets_are_described_in_plain_words():
    assert policy_terms_text(CancellationPolicy.FAIR) == (
        "free cancellation until 24 h before; later 10 % of the prepaid amount is kept; no-show 30 %"
    )
    assert policy_terms_text(CancellationPolicy.NONE) == (
        "free cancellation until the start; nothing is kept for a no-show"
    )
    assert policy_terms_text(CancellationPolicy.FLEXIBLE) == (
        "free cancellation until 2 h before; later cancellations are free too; no-show 10 %"
    )


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def merchant():
    return MerchantFactory(name="Lotus Spa")


@pytest.fixture
def store(merchant):
    return StoreFactory(merchant=merchant, name="Lotus Spa Xuhui")


@pytest.fixture
def console(client, merchant):
    """A logged-in console client for a role of the merchant (English pages)."""

    def make(role=OWNER, **kwargs):
        member = MemberFactory(merchant=merchant, role=role, **kwargs)
        client.force_login(member.user)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return make


def service_form(store=None, **overrides):
    data = {
        "name": "Foot massage",
        "description": "60 minutes, herbal soak",
        "price": "198.00",
        "prepayment": "deposit",
        "deposit": "50.00",
        "duration_minutes": "60",
        "capacity": "3",
        "capacity_per_person": "",
        "min_party": "1",
        "max_party": "2",
        "booking_window_days": "14",
        "min_notice_minutes": "30",
        "cancellation_policy": "fair",
        "is_active": "on",
    }
    if store is not None:
        data["store"] = store.pk
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def deal_form(store=None, **overrides):
    data = {
        "title": "Massage for two",
        "contents_text": "Foot massage × 2  396\nHerbal tea × 2  36",
        "price": "268.00",
        "original_price": "432.00",
        "stock": "100",
        "per_user_limit": "2",
        "max_per_order": "2",
        "sale_starts": "",
        "sale_ends": "",
        "valid_days": "60",
        "valid_until": "",
        "max_per_visit": "1",
        "usage_notes": "Book a day ahead.",
        "is_active": "on",
    }
    if store is not None:
        data["store"] = store.pk
    data.update(overrides)
    return {k: v for k, v in data.items() if v not in ("", None)}


def page(response):
    return response.content.decode()


# --- services editor ---------------------------------------------------------------------------


def test_services_page_without_stores_says_to_add_one(console):
    response = console().get("/merchant/services/")
    assert response.status_code == 200
    assert "Add a store first" in page(response)


def test_services_page_with_a_store_but_no_services_has_an_empty_state(console, store):
    response = console().get("/merchant/services/")
    assert "No services at this store yet." in page(response)


def test_owner_creates_a_service_and_is_sent_to_its_schedule(console, store):
    client = console()
    form = client.get(f"/merchant/services/new/?store={store.pk}")
    assert "free cancellation until 24 h before; later 10 % of the prepaid amount is kept; no-show 30 %" in page(form)

    response = client.post("/merchant/services/new/", service_form(store))

    service = Service.objects.get()
    assert response.status_code == 302
    assert response.url == f"/merchant/services/{service.pk}/schedule/"
    assert (service.store, service.name, service.deposit, service.capacity_per_person) == (
        store,
        "Foot massage",
        Decimal("50.00"),
        False,
    )
    listing = client.get("/merchant/services/")
    assert "Foot massage" in page(listing)
    assert "No weekly slots" in page(listing)


def test_a_refused_service_shows_every_reason_and_saves_nothing(console, store):
    response = console().post(
        "/merchant/services/new/", service_form(store, deposit="250.00", min_party="3", max_party="2")
    )
    assert response.status_code == 400
    assert "The deposit cannot be more than the price." in page(response)
    assert "The largest party cannot be smaller than the smallest." in page(response)
    assert not Service.objects.exists()


def test_garbage_in_the_service_form_is_a_400_not_a_500(console, store):
    response = console().post(
        "/merchant/services/new/", service_form(store, price="lots", cancellation_policy="whatever", capacity="-1")
    )
    assert response.status_code == 400
    assert not Service.objects.exists()


def test_manager_edits_a_service(console, store):
    service = ServiceFactory(store=store, name="Old name")
    client = console(MANAGER)

    response = client.post(
        f"/merchant/services/{service.pk}/",
        service_form(name="Back massage", prepayment="full", cancellation_policy="strict", is_active=""),
        follow=True,
    )

    service.refresh_from_db()
    assert (service.name, service.prepayment, service.deposit, service.is_active) == (
        "Back massage",
        "full",
        Decimal("0.00"),
        False,
    )
    assert service.cancellation_policy == CancellationPolicy.STRICT
    assert "Service “Back massage” saved." in page(response)


# --- schedule editor -------------------------------------------------------------------------------


def test_schedule_editor_saves_weekly_rules_and_previews_the_slots(console, store):
    service = ServiceFactory(store=store, weekly=False)
    client = console()
    days = {f"day_{d}": "" for d in range(7)}
    today = timezone.now().astimezone(store.tzinfo).date()
    days[f"day_{today.weekday()}"] = "11:00-12:00/30, 17:00-17:00"

    response = client.post(f"/merchant/services/{service.pk}/schedule/", days, follow=True)

    rows = list(
        ServiceSchedule.objects.filter(service=service).values_list("weekday", "starts", "ends", "slot_minutes")
    )
    assert rows == [(today.weekday(), T(11), T(12), 30), (today.weekday(), T(17), T(17), 30)]
    html = page(response)
    assert "Weekly slots of" in html
    assert "11:00-12:00/30, 17:00-17:00/30" in html  # the form shows what was saved
    assert all(f">{t}</span>" in html for t in ("11:00", "11:30", "12:00", "17:00"))
    assert "No slots on this day." in html  # the other six days


def test_schedule_editor_refuses_a_bad_line_and_keeps_the_old_rules(console, store):
    service = ServiceFactory(store=store)
    days = {f"day_{d}": "10:00-20:00/60" for d in range(7)}
    days["day_3"] = "20:00-11:00/30"

    response = console().post(f"/merchant/services/{service.pk}/schedule/", days)

    assert response.status_code == 400
    assert "the last slot is before the first" in page(response)
    assert service.schedules.count() == 7


def test_the_preview_flags_slots_outside_the_store_hours(console, store):
    service = ServiceFactory(store=store, weekly=[(d, "08:00", "09:00", 60) for d in range(7)])  # store opens 10:00
    response = console().get(f"/merchant/services/{service.pk}/schedule/")
    assert 'class="slot outside"' in page(response)
    assert "outside the store’s opening hours" in page(response)


def test_date_rules_are_added_and_removed_in_the_console(console, store):
    service = ServiceFactory(store=store)
    client = console()
    day = timezone.now().astimezone(store.tzinfo).date() + dt.timedelta(days=2)

    response = client.post(
        f"/merchant/services/{service.pk}/schedule/dates/", {"date": day.isoformat(), "kind": "closed"}, follow=True
    )
    rule = ServiceDateRule.objects.get(service=service)
    assert rule.kind == "closed"
    assert f"is closed on {day.isoformat()}" in page(response)
    assert "Closed for this service." in page(response)

    response = client.post(f"/merchant/services/{service.pk}/schedule/dates/{rule.pk}/remove/", follow=True)
    assert not ServiceDateRule.objects.exists()
    assert "Date rule removed." in page(response)


def test_an_extra_opening_without_times_is_refused_on_the_page(console, store):
    service = ServiceFactory(store=store)
    day = timezone.now().astimezone(store.tzinfo).date() + dt.timedelta(days=2)
    response = console().post(
        f"/merchant/services/{service.pk}/schedule/dates/", {"date": day.isoformat(), "kind": "extra", "times": ""}
    )
    assert response.status_code == 400
    assert "Give the extra slots" in page(response)
    response = console().post(
        f"/merchant/services/{service.pk}/schedule/dates/",
        {"date": day.isoformat(), "kind": "extra", "times": "21:00-22:00/30"},
    )
    assert response.status_code == 302
    assert ServiceDateRule.objects.get().ends == T(22)


# --- deals editor ---------------------------------------------------------------------------------


def test_deals_page_with_a_store_but_no_deals_has_an_empty_state(console, store):
    response = console().get("/merchant/deals/")
    assert "No deals at this store yet." in page(response)


def test_owner_creates_a_deal_and_sees_it_listed(console, store, merchant):
    branch = StoreFactory(merchant=merchant, name="Lotus Spa Pudong")
    client = console()

    response = client.post(
        "/merchant/deals/new/",
        deal_form(store, usable_stores=[store.pk, branch.pk], sale_starts="2030-07-01T18:00"),
        follow=True,
    )

    deal = Deal.objects.get()
    assert deal.contents == [
        {"name": "Foot massage", "quantity": 2, "price": "396.00"},
        {"name": "Herbal tea", "quantity": 2, "price": "36.00"},
    ]
    assert (deal.price, deal.original_price, deal.stock, deal.max_per_visit) == (
        Decimal("268.00"),
        Decimal("432.00"),
        100,
        1,
    )
    assert deal.sale_starts == dt.datetime(2030, 7, 1, 18, 0, tzinfo=store.tzinfo)
    assert deal.redeemable_store_ids() == {store.pk, branch.pk}
    html = page(response)
    assert "Deal “Massage for two” created." in html
    assert "Massage for two" in html
    assert "Starts later" in html
    assert "2030-07-01 18:00" in html


def test_sale_times_are_read_in_the_stores_time_zone(console, merchant):
    urumqi = CityFactory(slug="urumqi", name="乌鲁木齐", name_en="Urumqi", timezone="Asia/Urumqi")
    far_store = StoreFactory(merchant=merchant, city=urumqi)
    client = console()

    client.post("/merchant/deals/new/", deal_form(far_store, sale_ends="2030-07-01T22:00"))

    deal = Deal.objects.get()
    assert deal.sale_ends == dt.datetime(2030, 7, 1, 22, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Urumqi"))
    form = client.get(f"/merchant/deals/{deal.pk}/")
    assert 'value="2030-07-01T22:00"' in page(form)


def test_a_deal_needs_a_stock_or_unlimited(console, store):
    client = console()
    response = client.post("/merchant/deals/new/", deal_form(store, stock=""))
    assert response.status_code == 400
    assert "or tick unlimited" in page(response)

    client.post("/merchant/deals/new/", deal_form(store, stock="", unlimited_stock="on"))
    assert Deal.objects.get().stock is None


def test_a_refused_deal_shows_the_reasons_next_to_the_fields(console, store):
    response = console().post(
        "/merchant/deals/new/",
        deal_form(store, price="500.00", valid_days="", contents_text="Massage"),
    )
    assert response.status_code == 400
    html = page(response)
    assert "Line 1" in html
    assert not Deal.objects.exists()

    response = console().post("/merchant/deals/new/", deal_form(store, price="500.00", valid_days=""))
    html = page(response)
    assert "The price cannot be more than the original price." in html
    assert "Say how long vouchers stay valid" in html
    assert not Deal.objects.exists()


def test_manager_edits_a_deal_and_takes_it_off_sale(console, store):
    deal = DealFactory(store=store, title="Old title")
    client = console(MANAGER)

    response = client.post(
        f"/merchant/deals/{deal.pk}/", deal_form(title="Spa day", stock="40", needs_appointment="on"), follow=True
    )
    deal.refresh_from_db()
    assert (deal.title, deal.stock, deal.needs_appointment) == ("Spa day", 40, True)
    assert "Deal “Spa day” saved." in page(response)

    response = client.post(f"/merchant/deals/{deal.pk}/on-sale/", {"is_active": "0"}, follow=True)
    deal.refresh_from_db()
    assert deal.is_active is False
    assert "is off sale" in page(response)
    assert "Off sale" in page(response)


def test_the_appointment_service_list_offers_only_the_merchants_services(console, store):
    mine = ServiceFactory(store=store, name="Our massage")
    ServiceFactory(name="Someone else's massage")
    response = console().get("/merchant/deals/new/")
    assert "Our massage" in page(response)
    assert "Someone else" not in page(response)
    response = console().post(
        "/merchant/deals/new/", deal_form(store, needs_appointment="on", appointment_service=9999)
    )
    assert response.status_code == 400
    assert mine.pk != 9999


# --- who may do what ---------------------------------------------------------------------------------


EDITOR_PAGES = ["/merchant/services/", "/merchant/services/new/", "/merchant/deals/", "/merchant/deals/new/"]


@pytest.mark.parametrize("url", EDITOR_PAGES)
def test_clerks_cannot_open_the_catalogue_editors(console, store, url):
    response = console(CLERK).get(url)
    assert response.status_code == 403


def test_clerks_cannot_change_a_service_or_a_deal(console, store):
    service, deal = ServiceFactory(store=store, name="Kept"), DealFactory(store=store, title="Kept")
    client = console(CLERK)

    assert client.post(f"/merchant/services/{service.pk}/", service_form(name="Changed")).status_code == 403
    assert client.post(f"/merchant/deals/{deal.pk}/on-sale/", {"is_active": "0"}).status_code == 403

    service.refresh_from_db()
    deal.refresh_from_db()
    assert (service.name, deal.is_active) == ("Kept", True)


@pytest.fixture
def theirs():
    """Merchant B's service (with a closed date) and deal."""
    service = ServiceFactory(name="B's massage")
    rule = ServiceDateRule.objects.create(
        service=service, date=timezone.now().date() + dt.timedelta(days=5), kind=ServiceDateRule.Kind.CLOSED
    )
    deal = DealFactory(store=service.store, title="B's deal")
    return service, rule, deal


def b_snapshot(service, deal):
    service, deal = Service.objects.get(pk=service.pk), Deal.objects.get(pk=deal.pk)
    return (
        (service.name, service.price, service.is_active),
        list(service.schedules.values_list("weekday", "starts", "ends", "slot_minutes")),
        list(service.date_rules.values_list("date", "kind")),
        (deal.title, deal.price, deal.stock, deal.is_active),
    )


def test_another_merchants_catalogue_is_a_404_for_every_page_and_action(console, store, theirs):
    service, rule, deal = theirs
    before = b_snapshot(service, deal)
    client = console()
    day = (timezone.now() + dt.timedelta(days=3)).date().isoformat()

    gets = [
        f"/merchant/services/{service.pk}/",
        f"/merchant/services/{service.pk}/schedule/",
        f"/merchant/deals/{deal.pk}/",
    ]
    posts = [
        (f"/merchant/services/{service.pk}/", service_form(name="Hijacked")),
        (f"/merchant/services/{service.pk}/schedule/", {"day_0": "01:00-02:00/30"}),
        (f"/merchant/services/{service.pk}/schedule/dates/", {"date": day, "kind": "closed"}),
        (f"/merchant/services/{service.pk}/schedule/dates/{rule.pk}/remove/", {}),
        (f"/merchant/deals/{deal.pk}/", deal_form(title="Hijacked")),
        (f"/merchant/deals/{deal.pk}/on-sale/", {"is_active": "0"}),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    assert b_snapshot(service, deal) == before
    assert "B's" not in page(client.get("/merchant/services/")) + page(client.get("/merchant/deals/"))


def test_another_merchants_store_cannot_be_chosen_for_a_new_service_or_deal(console, store, theirs):
    service, _rule, _deal = theirs
    client = console()

    assert client.post("/merchant/services/new/", service_form(service.store)).status_code == 400
    assert client.post("/merchant/deals/new/", deal_form(service.store)).status_code == 400
    assert client.post("/merchant/deals/new/", deal_form(store, usable_stores=[service.store.pk])).status_code == 400
    assert Service.objects.filter(store__merchant=store.merchant).count() == 0
    assert Deal.objects.filter(store__merchant=store.merchant).count() == 0


def test_a_manager_of_one_store_edits_only_that_stores_catalogue(console, merchant, store):
    other_store = StoreFactory(merchant=merchant, name="Other branch")
    mine, not_mine = ServiceFactory(store=store), ServiceFactory(store=other_store)
    member_client = console(MANAGER)
    MerchantMember.objects.get(role=MANAGER).stores.set([store])

    assert member_client.get(f"/merchant/services/{mine.pk}/").status_code == 200
    assert member_client.get(f"/merchant/services/{not_mine.pk}/").status_code == 404
    assert "Other branch" not in page(member_client.get("/merchant/services/"))


def test_the_deposit_may_be_left_empty_unless_the_deposit_is_what_is_paid(console, store):
    client = console()
    response = client.post("/merchant/services/new/", service_form(store, prepayment="full", deposit=""))
    assert response.status_code == 302
    assert Service.objects.get().deposit == Decimal("0.00")

    response = client.post("/merchant/services/new/", service_form(store, prepayment="deposit", deposit=""))
    assert response.status_code == 400
    assert "Give the deposit amount, or choose another prepayment." in page(response)
