"""The merchant redemption API (DESIGN §10): POST /api/v1/merchant/redemptions/ and its lookup,
history and undo, with the statuses and bodies mobile apps build on.

These run at the real clock (the API takes no `now`): orders are bought and paid a moment ago.
"""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from coupons.models import Redemption, Voucher
from orders.models import Order
from payments import services as payment_services
from tests.factories.catalogue import DealFactory
from tests.factories.merchants import StoreFactory
from tests.factories.payments import paid_deal_order
from tests.orders import test_redemption as shared
from tests.orders.test_redemption import CLERK, MANAGER, NOT_FOUND, UNKNOWN_CODE, member_of, well_formed

pytestmark = pytest.mark.django_db

# The service tests' fixtures: one merchant with two stores, a deal, its owner and a clerk of
# the first store, and a clerk of another merchant.
merchant, store, branch, deal = shared.merchant, shared.store, shared.branch, shared.deal
owner, clerk, other_merchant_clerk = shared.owner, shared.clerk, shared.other_merchant_clerk

REDEMPTIONS = "/api/v1/merchant/redemptions/"
LOOKUP = "/api/v1/merchant/redemptions/lookup/"
CONTRACT_FIELDS = {"id", "voucher", "order", "redeemed_at", "store", "kind", "title"}


def api(member_or_user):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(getattr(member_or_user, "user", member_or_user))
    return client


def bought(deal, quantity=1, *, user_factory):
    order = paid_deal_order(user_factory(display_name="Han Meimei"), deal, quantity)
    return order, list(order.vouchers.order_by("pk"))


def post_redeem(client, voucher_or_code, store, **extra):
    code = getattr(voucher_or_code, "code", voucher_or_code)
    return client.post(REDEMPTIONS, {"code": code, "store": store.pk, **extra}, format="json")


# --- POST /merchant/redemptions/ ----------------------------------------------------------------


def test_redeem_answers_201_with_the_contract_fields(user_factory, deal, store, clerk):
    order, (voucher,) = bought(deal, user_factory=user_factory)

    response = post_redeem(api(clerk), voucher.code_display, store, request_key="k-1")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= CONTRACT_FIELDS
    assert body["voucher"] == voucher.pk and body["order"] == order.pk and body["store"] == store.pk
    assert (body["kind"], body["title"], body["replayed"]) == ("deal", "Hotpot for two", False)
    assert body["status"] == "live" and body["redeemed_by"] == clerk.user_id
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.REDEEMED
    redemption = Redemption.objects.get()
    assert redemption.ip == "127.0.0.1"


def test_a_repeated_request_key_returns_the_first_result_with_200(user_factory, deal, store, clerk):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    client = api(clerk)
    first = post_redeem(client, voucher, store, request_key="double-tap")

    again = post_redeem(client, voucher, store, request_key="double-tap")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["replayed"] is True
    assert Redemption.objects.count() == 1


def test_a_used_code_is_409_with_when_and_where(user_factory, deal, store, clerk):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    client = api(clerk)
    post_redeem(client, voucher, store)

    response = post_redeem(client, voucher, store)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "already_used"
    assert "Golden Wok Bund" in body["detail"]
    assert body["redeemed_store"] == {"id": store.pk, "name": "Golden Wok Bund"}
    assert body["redeemed_at"] == Redemption.objects.get().redeemed_at.isoformat()


def test_other_merchants_staff_get_the_same_404_whether_the_code_exists_or_not(
    user_factory, deal, other_merchant_clerk
):
    # given a real code of merchant A and a code no one has
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    client = api(other_merchant_clerk)
    their_store = other_merchant_clerk.stores.get()

    # when merchant B's clerk tries both, at lookup and at confirm
    answers = [
        client.post(path, {"code": code, "store": their_store.pk}, format="json")
        for path in (LOOKUP, REDEMPTIONS)
        for code in (voucher.code, UNKNOWN_CODE)
    ]

    # then every answer is the same 404, byte for byte
    assert {a.status_code for a in answers} == {404}
    assert answers[0].content == answers[1].content
    assert answers[2].content == answers[3].content
    assert answers[0].json() == {"detail": NOT_FOUND, "code": "unknown_code", "errors": {"code": [NOT_FOUND]}}
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.VALID


def test_a_refunded_code_is_410(user_factory, deal, store, clerk):
    order, (voucher,) = bought(deal, user_factory=user_factory)
    payment_services.vouchers_refund(order=order, user=order.user)

    response = post_redeem(api(clerk), voucher, store)

    assert response.status_code == 410
    assert response.json()["code"] == "refunded"


def test_an_expired_code_is_410(user_factory, store, clerk):
    deal = DealFactory(store=store, valid_days=1)
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    Voucher.objects.filter(pk=voucher.pk).update(valid_until=timezone.now() - dt.timedelta(minutes=1))

    response = post_redeem(api(clerk), voucher, store)

    assert response.status_code == 410
    assert response.json()["code"] == "expired"


def test_a_code_not_usable_at_this_store_is_400(user_factory, deal, branch, owner):
    _order, (voucher,) = bought(deal, user_factory=user_factory)

    response = post_redeem(api(owner), voucher, branch)

    assert response.status_code == 400
    assert response.json()["code"] == "not_usable_here"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "code"),
        ({"code": "1234"}, "store"),
        ({"code": "", "store": 1}, "code"),
        ({"code": "1234 5678 9999", "store": "STORE"}, "store"),
        ({"code": ["1"], "store": "STORE"}, "code"),
        ({"code": "x" * 500, "store": 1}, "code"),
    ],
)
def test_bad_input_is_400_with_field_errors(payload, field, clerk):
    response = api(clerk).post(REDEMPTIONS, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_malformed_code_is_400(store, clerk):
    response = post_redeem(api(clerk), "1234 5678 9999", store)

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_code"


def test_a_body_that_is_not_an_object_is_400(clerk):
    response = api(clerk).post(REDEMPTIONS, ["not", "an", "object"], format="json")

    assert response.status_code == 400


def test_a_clerk_cannot_redeem_at_a_store_they_are_not_assigned_to(user_factory, deal, store, branch, clerk):
    deal.usable_stores.set([store, branch])
    _order, (voucher,) = bought(deal, user_factory=user_factory)

    response = post_redeem(api(clerk), voucher, branch)

    assert response.status_code == 400
    assert response.json()["errors"] == {"store": ["Choose one of your stores."]}
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.VALID


def test_too_many_wrong_codes_is_429_with_retry_after(settings, user_factory, deal, store, clerk):
    settings.REDEMPTION_WRONG_CODES_PER_MEMBER = 3
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    client = api(clerk)
    for i in range(3):
        assert post_redeem(client, well_formed(f"9876543210{i}"), store).status_code == 404

    response = post_redeem(client, voucher, store)

    assert response.status_code == 429
    assert response.json()["code"] == "too_many_wrong_codes"
    assert "Wait" in response.json()["detail"]
    assert 0 < int(response["Retry-After"]) <= 600


def test_consumers_and_strangers_are_refused(user_factory, deal, store):
    _order, (voucher,) = bought(deal, user_factory=user_factory)

    assert post_redeem(APIClient(HTTP_ACCEPT_LANGUAGE="en"), voucher, store).status_code in (401, 403)
    assert post_redeem(api(user_factory()), voucher, store).status_code == 403
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.VALID


# --- lookup ---------------------------------------------------------------------------------------


def test_lookup_shows_the_voucher_and_a_fresh_request_key(user_factory, deal, store, clerk):
    order, vouchers = bought(deal, 2, user_factory=user_factory)
    client = api(clerk)

    response = client.post(LOOKUP, {"code": vouchers[0].code, "store": store.pk}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["voucher"] == vouchers[0].pk and body["code"] == vouchers[0].code_display
    assert (body["kind"], body["title"], body["customer"]) == ("deal", "Hotpot for two", "H***i")
    assert (body["units_left"], body["units_total"], body["order_number"]) == (2, 2, order.number)
    assert [item["name"] for item in body["contents"]] == ["Beef slices", "Soup base"]
    assert body["booking"] is None
    assert len(body["request_key"]) >= 20
    # the key works for the confirm, and nothing was used by the lookup
    assert Voucher.objects.get(pk=vouchers[0].pk).status == Voucher.Status.VALID
    confirm = post_redeem(client, vouchers[0], store, request_key=body["request_key"])
    assert confirm.status_code == 201


# --- history -----------------------------------------------------------------------------------------


def test_history_shows_each_member_their_stores_only(user_factory, merchant, deal, store, branch, clerk, owner):
    deal.usable_stores.set([store, branch])
    _order, vouchers = bought(deal, 2, user_factory=user_factory)
    post_redeem(api(clerk), vouchers[0], store)
    post_redeem(api(owner), vouchers[1], branch)
    other = StoreFactory(name="Elsewhere")
    _o, (theirs,) = bought(DealFactory(store=other), user_factory=user_factory)
    post_redeem(api(member_of(other.merchant)), theirs, other)

    owners_view = api(owner).get(REDEMPTIONS).json()
    clerks_view = api(clerk).get(REDEMPTIONS).json()

    assert owners_view["count"] == 2
    assert {row["store_name"] for row in owners_view["results"]} == {"Golden Wok Bund", "Golden Wok Jing'an"}
    assert clerks_view["count"] == 1 and clerks_view["results"][0]["store"] == store.pk
    row = clerks_view["results"][0]
    assert row["redeemed_by"] == clerk.user_id and row["ip"] == "127.0.0.1" and row["status"] == "live"


def test_history_filters(user_factory, merchant, deal, store, branch, owner, clerk):
    deal.usable_stores.set([store, branch])
    _order, vouchers = bought(deal, 3, user_factory=user_factory)
    client = api(owner)
    post_redeem(client, vouchers[0], store)
    post_redeem(client, vouchers[1], branch)
    undone = post_redeem(api(clerk), vouchers[2], store).json()
    client.post(f"{REDEMPTIONS}{undone['id']}/undo/", {"reason": "Mistake"}, format="json")
    today = timezone.localdate().isoformat()
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()

    def ids(**query):
        response = client.get(REDEMPTIONS, query)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert len(ids()) == 3
    assert len(ids(store=branch.pk)) == 1
    assert ids(status="undone") == {undone["id"]}
    assert len(ids(status="live")) == 2
    assert ids(member=clerk.user_id) == {undone["id"]}
    assert len(ids(date_from=today, date_to=today)) == 3
    assert ids(date_from=tomorrow) == set()


@pytest.mark.parametrize(
    "query",
    [
        {"status": "maybe"},
        {"date_from": "2030-02-30"},
        {"store": "x"},
        {"date_from": "2030-06-02", "date_to": "2030-06-01"},
    ],
)
def test_history_refuses_bad_filters_with_400(query, owner):
    assert api(owner).get(REDEMPTIONS, query).status_code == 400


def test_history_refuses_another_merchants_store_as_a_filter(owner, other_merchant_clerk):
    response = api(owner).get(REDEMPTIONS, {"store": other_merchant_clerk.stores.get().pk})

    assert response.status_code == 400
    assert "store" in response.json()["errors"]


# --- undo ---------------------------------------------------------------------------------------------------


def test_undo_within_the_hour(user_factory, deal, store, clerk):
    order, (voucher,) = bought(deal, user_factory=user_factory)
    client = api(clerk)
    redemption = post_redeem(client, voucher, store).json()

    response = client.post(f"{REDEMPTIONS}{redemption['id']}/undo/", {"reason": "Wrong code"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "undone" and body["undo_reason"] == "Wrong code" and body["undone_by"] == clerk.user_id
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.VALID
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "  "}, {"reason": 42}])
def test_undo_without_a_reason_is_400(payload, user_factory, deal, store, clerk):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    client = api(clerk)
    redemption = post_redeem(client, voucher, store).json()

    response = client.post(f"{REDEMPTIONS}{redemption['id']}/undo/", payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "reason_required"


def test_undo_past_the_hour_is_409(user_factory, deal, store, clerk):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    client = api(clerk)
    redemption = post_redeem(client, voucher, store).json()
    Redemption.objects.filter(pk=redemption["id"]).update(redeemed_at=timezone.now() - dt.timedelta(minutes=61))

    response = client.post(f"{REDEMPTIONS}{redemption['id']}/undo/", {"reason": "Late"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "undo_window_passed"


def test_undo_by_another_clerk_is_403_and_by_another_merchant_404(
    user_factory, merchant, deal, store, clerk, other_merchant_clerk
):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    redemption = post_redeem(api(clerk), voucher, store).json()
    url = f"{REDEMPTIONS}{redemption['id']}/undo/"

    colleague = member_of(merchant, CLERK, stores=[store])
    assert api(colleague).post(url, {"reason": "x"}, format="json").status_code == 403
    assert api(other_merchant_clerk).post(url, {"reason": "x"}, format="json").status_code == 404
    assert api(member_of(merchant, MANAGER)).post(url, {"reason": "Clerk asked"}, format="json").status_code == 200


def test_the_schema_describes_the_redemption_endpoints(client):
    response = client.get("/api/v1/schema/")

    assert response.status_code == 200
    schema = response.content.decode()
    for path in ("/api/v1/merchant/redemptions/", "/api/v1/merchant/redemptions/lookup/", "/undo/"):
        assert path in schema


@pytest.mark.parametrize(
    "method, path, data",
    [
        ("post", REDEMPTIONS, {"code": UNKNOWN_CODE, "store": 10**30}),
        ("post", LOOKUP, {"code": UNKNOWN_CODE, "store": 10**30}),
        ("get", REDEMPTIONS, {"store": 10**30}),
        ("get", REDEMPTIONS, {"member": 10**30}),
        ("post", f"{REDEMPTIONS}{10**30}/undo/", {"reason": "x"}),
    ],
)
def test_numbers_too_large_for_an_id_are_refused_not_an_error(method, path, data, owner):
    client = api(owner)
    response = client.post(path, data, format="json") if method == "post" else client.get(path, data)

    assert response.status_code in (400, 404)
