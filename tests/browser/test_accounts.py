import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_then_sign_out_and_sign_in_again(live_server, page):
    page.goto(f"{live_server.url}/accounts/sign-up/")
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Password", exact=True).fill("s3cret-pass-123")
    page.get_by_label("Password again").fill("s3cret-pass-123")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Your account is ready")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()

    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Username, e-mail or phone").fill("nina")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password.")

    page.get_by_label("Password").fill("s3cret-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as nina.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))


def test_language_switch_to_chinese(live_server, page):
    page.goto(f"{live_server.url}/")
    page.select_option("#language-select", "zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("link", name="登录")).to_be_visible()
