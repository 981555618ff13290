"""The Verify screen and the redemption history of the merchant console (/merchant/verify/,
/merchant/redemptions/): the two steps without JavaScript, refusals as 4xx pages, the store
remembered in the session, the console home's Verify box, CSV export, undo, and what the
consumer then sees on their order page."""

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from coupons.models import Redemption, Voucher
from orders.models import Order
from tests.factories.merchants import StoreFactory
from tests.factories.payments import paid_deal_order
from tests.orders import test_redemption as shared
from tests.orders.test_redemption import CLERK, NOT_FOUND, UNKNOWN_CODE, member_of, well_formed

pytestmark = pytest.mark.django_db

# The service tests' fixtures: one merchant with two stores, a deal, its owner and a clerk of
# the first store, and a clerk of another merchant.
merchant, store, branch, deal = shared.merchant, shared.store, shared.branch, shared.deal
owner, clerk, other_merchant_clerk = shared.owner, shared.clerk, shared.other_merchant_clerk

VERIFY = "/merchant/verify/"
LOOKUP = "/merchant/verify/lookup/"
CONFIRM = "/merchant/verify/confirm/"
HISTORY = "/merchant/redemptions/"
EXPORT = "/merchant/redemptions/export.csv"


def bought(deal, quantity=1, *, user_factory):
    order = paid_deal_order(user_factory(display_name="Han Meimei"), deal, quantity)
    return order, list(order.vouchers.order_by("pk"))


def signed_in(client, member):
    client.force_login(member.user)
    return client


def hidden(page, name):
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name}"
    return match.group(1)


def error_block(page):
    """The refusal shown on the Verify page (what a clerk reads)."""
    match = re.search(r'<div class="verify-refusal"[^>]*>.*?</div>', page, re.S)
    return match.group(0) if match else None


# --- the two steps -------------------------------------------------------------------------------


def test_verify_page_is_keypad_friendly_and_works_for_clerks(client, store, branch, clerk):
    response = signed_in(client, clerk).get(VERIFY)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'inputmode="numeric"' in page and 'name="code"' in page
    assert "js/verify.js" in page and "vendor/jsqr/jsQR.js" in page  # the scanner, loaded only when used
    # a clerk of one store sees that store and no selector of the others
    assert "Golden Wok Bund" in page and "Golden Wok Jing&#x27;an" not in page
    assert 'aria-current="page"' in page and reverse("console:redemptions") in page


def test_look_up_then_confirm(client, user_factory, deal, store, clerk):
    # given an order of two units
    order, vouchers = bought(deal, 2, user_factory=user_factory)
    signed_in(client, clerk)

    # when the clerk types the first code and looks it up
    lookup = client.post(LOOKUP, {"store": store.pk, "code": vouchers[0].code_display})

    # then the screen shows what it is for, whose, what is left and until when; nothing is used yet
    assert lookup.status_code == 200
    page = lookup.content.decode()
    for text in ("Hotpot for two", "Beef slices", "H***i", "2 of 2 usable", order.number_display, "Valid until"):
        assert text in page, text
    assert Voucher.objects.get(pk=vouchers[0].pk).status == Voucher.Status.VALID

    # when they confirm
    form = {name: hidden(page, name) for name in ("store", "code", "request_key")}
    done = client.post(CONFIRM, form)

    # then the voucher is used and the result page shows it, with the next code's form
    redemption = Redemption.objects.get()
    assert done.status_code == 302 and done.url == reverse("console:verify_done", args=[redemption.pk])
    result = client.get(done.url).content.decode()
    assert "Used" in result and vouchers[0].code_display in result and "1 more usable" in result
    assert 'name="code"' in result
    assert redemption.redeemed_by == clerk.user and redemption.store == store
    assert redemption.device == "" and redemption.ip == "127.0.0.1"


def test_a_double_tap_on_confirm_uses_the_voucher_once(client, user_factory, deal, store, clerk):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    signed_in(client, clerk)
    page = client.post(LOOKUP, {"store": store.pk, "code": voucher.code}).content.decode()
    form = {name: hidden(page, name) for name in ("store", "code", "request_key")}

    first = client.post(CONFIRM, form, HTTP_USER_AGENT="CounterPad")
    second = client.post(CONFIRM, form, HTTP_USER_AGENT="CounterPad")

    assert first.status_code == second.status_code == 302
    assert first.url == second.url
    assert Redemption.objects.count() == 1
    assert Redemption.objects.get().device == "CounterPad"


def test_a_second_lookup_of_a_used_code_says_when_and_where(client, user_factory, deal, store, clerk):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    signed_in(client, clerk)
    page = client.post(LOOKUP, {"store": store.pk, "code": voucher.code}).content.decode()
    client.post(CONFIRM, {name: hidden(page, name) for name in ("store", "code", "request_key")})

    again = client.post(LOOKUP, {"store": store.pk, "code": voucher.code})

    assert again.status_code == 409
    assert "already used" in error_block(again.content.decode())
    assert "Golden Wok Bund" in error_block(again.content.decode())


def test_another_merchants_staff_see_the_same_refusal_for_a_real_code_and_a_made_up_one(
    client, user_factory, deal, other_merchant_clerk
):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    signed_in(client, other_merchant_clerk)
    their_store = other_merchant_clerk.stores.get()

    real = client.post(LOOKUP, {"store": their_store.pk, "code": voucher.code})
    made_up = client.post(LOOKUP, {"store": their_store.pk, "code": UNKNOWN_CODE})

    assert real.status_code == made_up.status_code == 404
    assert error_block(real.content.decode()) == error_block(made_up.content.decode())
    assert NOT_FOUND in error_block(real.content.decode())

    # the whole page differs only by the CSRF token and nothing else
    def without_tokens(response):
        return re.sub(r'value="[A-Za-z0-9]{64}"', "", response.content.decode())

    assert without_tokens(real) == without_tokens(made_up)


@pytest.mark.parametrize("code", ["", "1234", "abcd efgh ijkl", "²²²²²²²²²²²²", "9" * 80])
def test_bad_input_is_a_400_page_never_an_error(client, store, clerk, code):
    response = signed_in(client, clerk).post(LOOKUP, {"store": store.pk, "code": code})

    assert response.status_code == 400


def test_confirm_with_a_tampered_form_is_refused(client, store, clerk):
    signed_in(client, clerk)

    assert client.post(CONFIRM, {"store": "x", "code": UNKNOWN_CODE}).status_code == 400
    assert client.post(CONFIRM, {"store": store.pk, "code": UNKNOWN_CODE, "request_key": "k"}).status_code == 404


def test_a_clerk_cannot_look_up_or_confirm_at_a_store_they_are_not_assigned_to(
    client, user_factory, deal, store, branch, clerk
):
    deal.usable_stores.set([store, branch])
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    signed_in(client, clerk)

    lookup = client.post(LOOKUP, {"store": branch.pk, "code": voucher.code})
    confirm = client.post(CONFIRM, {"store": branch.pk, "code": voucher.code, "request_key": "k"})

    assert lookup.status_code == 400 and confirm.status_code == 400
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.VALID


def test_too_many_wrong_codes_is_a_429_page(settings, client, store, clerk):
    settings.REDEMPTION_WRONG_CODES_PER_MEMBER = 2
    signed_in(client, clerk)
    for i in range(2):
        assert client.post(LOOKUP, {"store": store.pk, "code": well_formed(f"5555555555{i}")}).status_code == 404

    response = client.post(LOOKUP, {"store": store.pk, "code": UNKNOWN_CODE})

    assert response.status_code == 429
    assert "Too many wrong codes" in error_block(response.content.decode())
    assert int(response["Retry-After"]) > 0


def test_get_on_the_steps_goes_back_to_verify(client, clerk):
    signed_in(client, clerk)

    assert client.get(LOOKUP).url == VERIFY
    assert client.get(CONFIRM).url == VERIFY


def test_consumers_cannot_open_verify(client, user_factory):
    client.force_login(user_factory())

    assert client.get(VERIFY).status_code == 403
    assert client.post(LOOKUP, {"code": UNKNOWN_CODE}).status_code == 403


# --- the store, remembered -----------------------------------------------------------------------------


def test_the_chosen_store_is_remembered_and_used_by_the_home_box(client, user_factory, deal, store, branch, owner):
    deal.usable_stores.set([store, branch])
    _order, vouchers = bought(deal, 2, user_factory=user_factory)
    signed_in(client, owner)

    # an owner of two stores must choose one first
    home = client.get(reverse("console:home")).content.decode()
    assert 'action="/merchant/verify/lookup/"' in home and 'inputmode="numeric"' in home
    assert client.post(LOOKUP, {"code": vouchers[0].code}).status_code == 400

    # once chosen on the Verify page, the store is remembered
    client.post(LOOKUP, {"store": branch.pk, "code": vouchers[0].code})
    assert f'value="{branch.pk}" selected' in client.get(VERIFY).content.decode()

    # and the home box, which sends the code only, looks it up there
    page = client.post(LOOKUP, {"code": vouchers[1].code}).content.decode()
    assert hidden(page, "store") == str(branch.pk)


def test_a_member_of_one_store_needs_not_choose(client, user_factory, deal, store, clerk):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    signed_in(client, clerk)

    response = client.post(LOOKUP, {"code": voucher.code})

    assert response.status_code == 200
    assert hidden(response.content.decode(), "store") == str(store.pk)


# --- history, export, undo ------------------------------------------------------------------------------------


def redeem_through_pages(client, voucher, store):
    page = client.post(LOOKUP, {"store": store.pk, "code": voucher.code}).content.decode()
    client.post(CONFIRM, {name: hidden(page, name) for name in ("store", "code", "request_key")})
    return Redemption.objects.get(voucher=voucher, undone_at__isnull=True)


def test_history_lists_the_members_stores_only(client, user_factory, merchant, deal, store, branch, owner, clerk):
    deal.usable_stores.set([store, branch])
    _order, vouchers = bought(deal, 2, user_factory=user_factory)
    redeem_through_pages(signed_in(client, owner), vouchers[0], branch)
    redeem_through_pages(signed_in(client, clerk), vouchers[1], store)

    clerks = signed_in(client, clerk).get(HISTORY).content.decode()
    owners = signed_in(client, owner).get(HISTORY).content.decode()

    assert clerks.count('data-testid="redemption-row"') == 1 and vouchers[1].code_display in clerks
    assert owners.count('data-testid="redemption-row"') == 2
    filtered = client.get(HISTORY, {"store": branch.pk, "status": "live"}).content.decode()
    assert filtered.count('data-testid="redemption-row"') == 1 and vouchers[0].code_display in filtered


def test_history_with_bad_filters_is_a_400_page(client, owner, other_merchant_clerk):
    signed_in(client, owner)

    assert client.get(HISTORY, {"date_from": "2030-02-30"}).status_code == 400
    assert client.get(HISTORY, {"store": other_merchant_clerk.stores.get().pk}).status_code == 400
    assert client.get(HISTORY, {"page": "zzz"}).status_code == 200


def test_csv_export_has_every_redemption_and_defuses_formulas(client, user_factory, deal, store, clerk):
    _order, vouchers = bought(deal, 2, user_factory=user_factory)
    signed_in(client, clerk)
    page = client.post(LOOKUP, {"store": store.pk, "code": vouchers[0].code}).content.decode()
    client.post(
        CONFIRM, {name: hidden(page, name) for name in ("store", "code", "request_key")}, HTTP_USER_AGENT="=HYPERLINK()"
    )

    response = client.get(EXPORT)

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["redeemed_at", "store", "code"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["store"], row["code"], row["status"]) == ("Golden Wok Bund", vouchers[0].code_display, "live")
    assert row["device"] == "'=HYPERLINK()"


def test_undo_from_the_history(client, user_factory, deal, store, clerk):
    order, (voucher,) = bought(deal, user_factory=user_factory)
    redemption = redeem_through_pages(signed_in(client, clerk), voucher, store)
    url = reverse("console:redemption_undo", args=[redemption.pk])
    assert url in client.get(HISTORY).content.decode()

    refused = client.post(url, {"reason": "  "})
    done = client.post(url, {"reason": "Confirmed the wrong code"})

    assert refused.status_code == 400 and "Say why" in refused.content.decode()
    assert done.status_code == 302
    voucher.refresh_from_db()
    order.refresh_from_db()
    assert voucher.status == Voucher.Status.VALID and order.status == Order.Status.PAID
    assert "Undone" in client.get(HISTORY).content.decode()


def test_undo_past_the_hour_is_refused_on_the_page(client, user_factory, deal, store, clerk):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    redemption = redeem_through_pages(signed_in(client, clerk), voucher, store)
    Redemption.objects.filter(pk=redemption.pk).update(redeemed_at=timezone.now() - dt.timedelta(minutes=61))

    response = client.post(reverse("console:redemption_undo", args=[redemption.pk]), {"reason": "Late"})

    assert response.status_code == 409
    assert "within an hour" in response.content.decode()
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.REDEEMED


def test_another_merchants_redemption_is_a_404(client, user_factory, deal, store, clerk, other_merchant_clerk):
    _order, (voucher,) = bought(deal, user_factory=user_factory)
    redemption = redeem_through_pages(signed_in(client, clerk), voucher, store)
    signed_in(client, other_merchant_clerk)

    assert client.get(reverse("console:redemption_undo", args=[redemption.pk])).status_code == 404
    assert client.get(reverse("console:verify_done", args=[redemption.pk])).status_code == 404


# --- the consumer's side -------------------------------------------------------------------------------------


def test_the_consumer_sees_the_voucher_used_with_time_and_store(client, user_factory, deal, store, clerk):
    order, (voucher,) = bought(deal, user_factory=user_factory)
    redeem_through_pages(signed_in(client, clerk), voucher, store)

    client.force_login(order.user)
    page = client.get(order.get_absolute_url()).content.decode()

    used = re.search(r'data-testid="voucher-used">(.*?)</p>', page, re.S).group(1)
    assert "Used" in used and "Golden Wok Bund" in used
    assert timezone.localtime(Voucher.objects.get(pk=voucher.pk).redeemed_at).strftime("%Y-%m-%d %H:%M") in used


def test_a_store_of_another_merchant_never_appears_in_the_selector(client, owner):
    StoreFactory(name="Somebody Else's")

    page = signed_in(client, owner).get(VERIFY).content.decode()

    assert "Somebody Else" not in page


def test_a_clerk_can_verify_where_there_are_several_clerks(client, user_factory, merchant, deal, store):
    colleagues = [member_of(merchant, CLERK, stores=[store]) for _i in range(2)]
    _order, vouchers = bought(deal, 2, user_factory=user_factory)

    for member, voucher in zip(colleagues, vouchers, strict=True):
        redeem_through_pages(signed_in(client, member), voucher, store)

    assert {r.redeemed_by_id for r in Redemption.objects.all()} == {m.user_id for m in colleagues}


def test_the_consumers_qr_code_is_a_regular_qr_code(client, user_factory, deal):
    order, _vouchers = bought(deal, user_factory=user_factory)
    client.force_login(order.user)

    page = client.get(order.get_absolute_url()).content.decode()

    # A regular QR code is at least 21 modules wide (version 1), plus the quiet zone of 2 on
    # each side, drawn at scale 4: a viewBox of 100 or more. Micro QR M3 is 76.
    size = int(re.search(r'<svg viewBox="0 0 (\d+) \d+" class="segno"', page).group(1))
    assert size >= (21 + 2 * 2) * 4


def test_numbers_too_large_for_an_id_are_refused_not_an_error(client, owner):
    signed_in(client, owner)
    huge = 10**30

    assert client.post(LOOKUP, {"store": huge, "code": UNKNOWN_CODE}).status_code == 400
    assert client.post(CONFIRM, {"store": huge, "code": UNKNOWN_CODE, "request_key": "k"}).status_code == 400
    assert client.get(HISTORY, {"store": huge}).status_code == 400
    assert client.get(HISTORY, {"member": huge}).status_code == 400
    assert client.get(f"/merchant/verify/done/{huge}/").status_code == 404
    assert client.get(f"/merchant/redemptions/{huge}/undo/").status_code == 404
