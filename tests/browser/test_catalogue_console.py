"""An owner builds the catalogue in the console: a service with weekly slots, then a deal."""

import re

import pytest
from playwright.sync_api import expect

from merchants.models import Deal, Service
from tests.factories.merchants import MemberFactory, MerchantFactory, StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_creates_a_service_with_slots_and_a_deal(live_server, page, password):
    merchant = MerchantFactory(name="Lotus Spa")
    StoreFactory(merchant=merchant, name="Lotus Spa Xuhui")  # open 10:00-22:00 every day
    owner = MemberFactory(merchant=merchant, user__username="lotus")

    page.goto(f"{live_server.url}/accounts/sign-in/?next=/merchant/services/")
    page.get_by_label("Username, e-mail or phone").fill(owner.user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("No services at this store yet.")).to_be_visible()

    # A service: most fields start from sensible defaults.
    page.get_by_role("link", name="Add a service", exact=True).click()
    page.get_by_label("Store", exact=True).select_option(label="Lotus Spa Xuhui")
    page.get_by_label("Name", exact=True).fill("Foot massage")
    page.get_by_label("Price", exact=True).fill("198")
    page.get_by_label("Duration (minutes)").fill("60")
    expect(
        page.get_by_text("free cancellation until 24 h before; later 10 % of the prepaid amount is kept")
    ).to_be_visible()
    page.get_by_role("button", name="Create service").click()
    expect(page.get_by_text("Service “Foot massage” created.")).to_be_visible()

    # Its weekly slots, and the preview of the coming days.
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        page.get_by_label(day).fill("11:00-12:00/30, 15:00-16:00/60")
    page.get_by_role("button", name="Save weekly slots").click()
    expect(page.get_by_text("Weekly slots of “Foot massage” saved.")).to_be_visible()
    preview = page.locator(".slot-preview > li").first
    expect(preview).to_contain_text("Today")
    expect(preview.locator(".slot")).to_have_text(["11:00", "11:30", "12:00", "15:00", "16:00"])

    page.get_by_role("link", name="All services").click()
    expect(page.locator(".catalogue-table")).to_contain_text("Foot massage")
    expect(page.locator(".catalogue-table")).not_to_contain_text("No weekly slots")

    # A deal.
    page.goto(f"{live_server.url}/merchant/deals/")
    expect(page.get_by_text("No deals at this store yet.")).to_be_visible()
    page.get_by_role("link", name="Add a deal", exact=True).click()
    page.get_by_label("Store", exact=True).select_option(label="Lotus Spa Xuhui")
    page.get_by_label("Title").fill("Massage for two")
    page.get_by_label("What is included").fill("Foot massage × 2  396\nHerbal tea × 2  36")
    page.get_by_label("Price", exact=True).fill("268")
    page.get_by_label("Original price").fill("432")
    page.get_by_label("Stock", exact=True).fill("50")
    page.get_by_role("button", name="Create deal").click()

    expect(page.get_by_text("Deal “Massage for two” created.")).to_be_visible()
    row = page.locator(".catalogue-table tbody tr", has_text="Massage for two")
    expect(row).to_contain_text("¥268.00")
    expect(row).to_contain_text("On sale")
    expect(page).to_have_url(re.compile(r"/merchant/deals/\?store=\d+$"))

    service = Service.objects.get()
    assert service.schedules.count() == 14
    assert Deal.objects.get().contents[1] == {"name": "Herbal tea", "quantity": 2, "price": "36.00"}
    assert Deal.objects.get().store.has_deals is True
