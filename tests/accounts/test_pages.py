import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_sign_up_page_creates_account_and_signs_in(client):
    response = client.post(
        "/accounts/sign-up/",
        {"username": "hal", "password": "s3cret-pass-123", "password_again": "s3cret-pass-123"},
        follow=True,
    )
    assert response.status_code == 200
    assert response.context["user"].username == "hal"


def test_sign_up_mismatched_passwords_shows_message_and_creates_nothing(client):
    response = client.post(
        "/accounts/sign-up/",
        {"username": "hal", "password": "s3cret-pass-123", "password_again": "other-pass-456"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "The two passwords differ." in response.content.decode()
    assert not User.objects.exists()


def test_sign_in_wrong_password_shows_message(client, user_factory):
    user_factory(username="ivy")
    response = client.post("/accounts/sign-in/", {"login": "ivy", "password": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "Wrong username or password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_in_then_sign_out(client, user_factory, password):
    user_factory(username="jay")
    response = client.post("/accounts/sign-in/", {"login": "jay", "password": password})
    assert response.status_code == 302
    assert client.session["_auth_user_id"]
    client.post("/accounts/sign-out/")
    assert "_auth_user_id" not in client.session


def test_sign_in_refuses_after_too_many_failures_even_with_right_password(client, user_factory, password, settings):
    settings.SIGN_IN_MAX_FAILURES = 2
    user_factory(username="kim")
    for _ in range(2):
        client.post("/accounts/sign-in/", {"login": "kim", "password": "bad"})
    response = client.post("/accounts/sign-in/", {"login": "kim", "password": password}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_in_ignores_foreign_next_url(client, user_factory, password):
    user_factory(username="lee")
    response = client.post("/accounts/sign-in/?next=https://evil.example/", {"login": "lee", "password": password})
    assert response.url == "/"


def test_password_change(client, user_factory, password):
    user = user_factory(username="max")
    client.force_login(user)
    response = client.post(
        "/accounts/password/",
        {"old_password": password, "new_password1": "n3w-pass-7890", "new_password2": "n3w-pass-7890"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("n3w-pass-7890")


def test_home_in_both_languages(client):
    assert "Find great local services" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "发现" in client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
