"""Verify at the counter, in a real browser: a clerk types a code (grouped in fours as they
type), sees what it is for, confirms, finds it in the history; the consumer's order page then
shows the voucher used, with the time and the store. A second test scans the voucher's QR code
with a (fake) camera, through the vendored jsQR since Chromium on Linux has no BarcodeDetector.
"""

import io
import re

import pytest
import segno
from PIL import Image
from playwright.sync_api import expect

from coupons.models import Redemption
from merchants.models import MerchantMember
from tests.conftest import CHROMIUM
from tests.factories.accounts import UserFactory
from tests.factories.catalogue import DealFactory
from tests.factories.merchants import MemberFactory, MerchantFactory, StoreFactory
from tests.factories.payments import paid_deal_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def counter():
    """A store selling a deal, its clerk, and a consumer's paid order of one unit."""
    merchant = MerchantFactory(name="Golden Wok")
    store = StoreFactory(merchant=merchant, name="Golden Wok Bund")
    deal = DealFactory(store=store, title="Hotpot for two", contents=[{"name": "Beef slices", "quantity": 2}])
    clerk = MemberFactory(merchant=merchant, role=MerchantMember.Role.CLERK, user__username="xiaowang")
    clerk.stores.set([store])
    consumer = UserFactory(username="alice", display_name="Alice")
    order = paid_deal_order(consumer, deal, 1)
    return order, order.vouchers.get()


def sign_in(page, live_server, username, password, next_url):
    page.goto(f"{live_server.url}/accounts/sign-in/?next={next_url}")
    page.get_by_label("Username, e-mail or phone").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{next_url}")
    page.wait_for_load_state()  # verify.js is deferred: type once it listens


def test_clerk_verifies_a_typed_code_and_the_consumer_sees_it_used(live_server, page, password, counter):
    order, voucher = counter

    # the clerk opens Verify and types the digits: the page groups them in fours
    sign_in(page, live_server, "xiaowang", password, "/merchant/verify/")
    code_input = page.get_by_label("Voucher code")
    expect(code_input).to_have_attribute("inputmode", "numeric")
    code_input.press_sequentially(voucher.code)
    expect(code_input).to_have_value(voucher.code_display)

    # step one: what it is for
    page.get_by_role("button", name="Look up").click()
    lookup = page.get_by_test_id("lookup")
    expect(lookup).to_contain_text("Hotpot for two")
    expect(lookup).to_contain_text("Beef slices")
    expect(lookup).to_contain_text("A***e")
    expect(page.get_by_test_id("units-left")).to_have_text("1 of 1 usable")

    # step two: confirm
    page.get_by_role("button", name="Confirm: mark as used").click()
    done = page.get_by_test_id("redemption-done")
    expect(done).to_contain_text("Used")
    expect(done).to_contain_text(voucher.code_display)

    # the history has it
    page.locator(".console-nav").get_by_role("link", name="Redemptions").click()
    rows = page.get_by_test_id("redemption-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(voucher.code_display)
    expect(rows.first).to_contain_text("Golden Wok Bund")

    # a second look-up of the same code is refused with when and where
    page.goto(f"{live_server.url}/merchant/verify/")
    page.get_by_label("Voucher code").fill(voucher.code)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_test_id("verify-error")).to_contain_text("already used")

    # the consumer's order page shows the voucher used, with the store
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, "alice", password, order.get_absolute_url())
    used = page.get_by_test_id("voucher-used")
    expect(used).to_contain_text("Used")
    expect(used).to_contain_text("Golden Wok Bund")
    assert Redemption.objects.get().voucher_id == voucher.pk


# --- scanning -------------------------------------------------------------------------------------


def qr_video(path, code, size=480, frames=10):
    """A short Y4M video of the voucher's QR code, for Chromium's fake camera.

    A regular QR code (micro=False): segno picks a Micro QR for 12 digits, which phone
    scanners, BarcodeDetector and jsQR cannot read (see test_redemption_console.py,
    test_the_consumers_qr_code_is_a_regular_qr_code).
    """
    png = io.BytesIO()
    segno.make(code, error="m", micro=False).save(png, kind="png", scale=10, border=4)
    png.seek(0)
    qr = Image.open(png).convert("L").resize((size - 80, size - 80), Image.NEAREST)
    image = Image.new("L", (size, size), 255)
    image.paste(qr, (40, 40))
    luma = image.tobytes()
    chroma = bytes([128]) * ((size // 2) * (size // 2))
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _frame in range(frames):
            video.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def test_clerk_scans_the_qr_code_with_the_camera(live_server, playwright, password, counter, tmp_path):
    _order, voucher = counter
    video = qr_video(tmp_path / "qr.y4m", voucher.code)
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", permissions=["camera"])
        page = context.new_page()
        sign_in(page, live_server, "xiaowang", password, "/merchant/verify/")

        # the Scan button appears only where a camera can be used
        page.get_by_role("button", name="Scan QR code").click()

        # the code is read, filled in and looked up
        expect(page.get_by_test_id("lookup-code")).to_have_text(voucher.code_display, timeout=20_000)
        expect(page).to_have_url(re.compile(r"/merchant/verify/lookup/$"))
        context.close()
    finally:
        browser.close()
