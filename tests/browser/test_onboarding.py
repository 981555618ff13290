"""From applying to a first store with a photo, in a real browser: applicant, platform admin, applicant."""

import re

import pytest
from django.contrib.auth import get_user_model
from PIL import Image
from playwright.sync_api import expect

from merchants.models import MerchantApplication, Store
from tests.factories.merchants import CategoryFactory, CityFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base_url, username, password):
    page.goto(f"{base_url}/accounts/sign-in/")
    page.get_by_label("Username, e-mail or phone").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()


def test_apply_get_approved_then_create_a_store_with_a_photo(
    live_server, page, browser, user_factory, password, tmp_path
):
    # given a city, a category and two people: an applicant and a platform admin
    city = CityFactory()
    category = CategoryFactory(slug="food", name="美食", name_en="Food")
    user_factory(username="ada")
    get_user_model().objects.create_superuser("ops", "ops@example.com", password)
    licence, storefront = tmp_path / "licence.png", tmp_path / "storefront.png"
    Image.new("RGB", (300, 200), (235, 235, 225)).save(licence)
    Image.new("RGB", (800, 600), (200, 60, 30)).save(storefront)

    # the applicant applies with a licence image
    sign_in(page, live_server.url, "ada", password)
    page.goto(f"{live_server.url}/merchants/apply/")
    page.get_by_label("Business name").fill("Ada's Noodles")
    page.get_by_label("Category").select_option(str(category.pk))
    page.get_by_label("Contact name").fill("Ada")
    page.get_by_label("Contact phone").fill("13800001111")
    page.get_by_label("Business licence").set_input_files(licence)
    page.get_by_role("button", name="Send application").click()
    expect(page.get_by_role("heading", name="Your application is under review")).to_be_visible()

    # a platform admin approves it with the admin action
    admin_context = browser.new_context(locale="en-US")
    admin = admin_context.new_page()
    admin.goto(f"{live_server.url}/admin/login/?next=/admin/merchants/merchantapplication/")
    admin.get_by_label("Username").fill("ops")
    admin.get_by_label("Password").fill(password)
    admin.get_by_role("button", name="Log in").click()
    row = admin.locator("#result_list tbody tr", has_text="Ada's Noodles")
    expect(row.locator("img")).to_be_visible()  # the licence thumbnail
    row.locator("input[name=_selected_action]").check()
    admin.locator("select[name=action]").select_option("approve_applications")
    admin.get_by_role("button", name="Go").click()
    expect(admin.locator(".messagelist")).to_contain_text("Approved 1 application")
    admin_context.close()
    assert MerchantApplication.objects.get().status == MerchantApplication.Status.APPROVED

    # the applicant, now an owner, opens the console and creates a store
    page.goto(f"{live_server.url}/merchants/apply/")
    page.get_by_role("link", name="Open the merchant console").click()
    expect(page.get_by_text("No stores yet.")).to_be_visible()
    page.get_by_role("link", name="Add your first store").click()
    page.get_by_label("Store name").fill("Ada's Noodles Jing'an")
    page.get_by_label("City").select_option(str(city.pk))
    page.get_by_label("Address").fill("1 Nanjing West Road")
    page.get_by_label("Latitude").fill("31.2290")
    page.get_by_label("Longitude").fill("121.4540")
    page.get_by_label("Average spend per person").fill("45")
    page.get_by_label("Published").check()
    page.get_by_role("button", name="Create store").click()
    expect(page.get_by_text("created. Now set its opening hours.")).to_be_visible()

    # sets its hours, with a break and a late-night span
    page.get_by_label("Monday").fill("11:00-14:00, 17:00-02:00")
    page.get_by_label("Tuesday").fill("11:00-14:00, 13:00-15:00")
    page.get_by_role("button", name="Save hours").click()
    expect(page.get_by_role("alert").filter(has_text="overlap")).to_be_visible()
    page.get_by_label("Tuesday").fill("11:00-22:00")
    page.get_by_role("button", name="Save hours").click()
    expect(page.get_by_text("Opening hours saved.")).to_be_visible()

    # edits it
    page.get_by_role("link", name="Details").click()
    page.get_by_label("Store name").fill("Ada's Noodles Jing'an 2F")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Ada's Noodles Jing'an 2F")).to_be_visible()

    # and uploads a photo, which comes back as a thumbnail and the cover
    page.get_by_role("link", name="Photos").click()
    expect(page.get_by_text("No photos yet.")).to_be_visible()
    page.get_by_label("Photo", exact=True).set_input_files(storefront)
    page.get_by_label("Caption").fill("Storefront")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Photo added.")).to_be_visible()
    thumbnail = page.locator(".photo-grid img").first
    expect(thumbnail).to_be_visible()
    expect(thumbnail).to_have_attribute("src", re.compile(r"/media/stores/.+_thumb\.jpg$"))
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") > 0  # the file is really served
    expect(page.locator(".photo.cover")).to_contain_text("Cover")

    store = Store.objects.get()
    assert (store.name, store.is_published, store.hours.count()) == ("Ada's Noodles Jing'an 2F", True, 3)
    assert store in Store.objects.discoverable()
