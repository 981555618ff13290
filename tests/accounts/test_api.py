import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_register_then_token_then_authenticated_call(api_client):
    response = api_client.post(
        "/api/v1/auth/register/", {"username": "carol", "password": "s3cret-pass-123"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["username"] == "carol"
    assert response.json()["id"] == User.objects.get(username="carol").pk

    response = api_client.post("/api/v1/auth/token/", {"username": "carol", "password": "s3cret-pass-123"})
    assert response.status_code == 200
    token = response.json()["token"]
    assert len(token) == 40


def test_register_bad_input_is_400_with_field_errors(api_client):
    response = api_client.post("/api/v1/auth/register/", {"username": "", "password": "1"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert "username" in body["errors"]
    assert not User.objects.exists()


def test_register_weak_password_is_400_and_creates_nothing(api_client):
    response = api_client.post("/api/v1/auth/register/", {"username": "dan", "password": "12345678"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert not User.objects.filter(username="dan").exists()


def test_token_with_wrong_password_is_400(api_client, user_factory):
    user_factory(username="erin")
    response = api_client.post("/api/v1/auth/token/", {"username": "erin", "password": "wrong"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_login"


def test_token_by_email_or_phone(api_client, user_factory, password):
    user_factory(username="fay", email="fay@example.com", phone="13700000000")
    for login in ("fay@example.com", "13700000000"):
        response = api_client.post("/api/v1/auth/token/", {"username": login, "password": password})
        assert response.status_code == 200, login


def test_token_guessing_is_throttled(api_client, user_factory, password, settings):
    settings.SIGN_IN_MAX_FAILURES = 3
    user_factory(username="gus")
    for _ in range(3):
        assert api_client.post("/api/v1/auth/token/", {"username": "gus", "password": "x"}).status_code == 400
    response = api_client.post("/api/v1/auth/token/", {"username": "gus", "password": password})
    assert response.status_code == 429
    assert "Retry-After" in response
    assert response.json()["code"] == "too_many_attempts"


def test_schema_and_docs_are_served(client):
    assert client.get("/api/v1/schema/").status_code == 200
    assert client.get("/api/v1/docs/").status_code == 200
