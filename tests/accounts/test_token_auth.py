"""API tokens: accepted fast from the cache, refused at once when revoked or the user is off."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(user_factory):
    return Token.objects.create(user=user_factory(username="tia"))


def _orders(api_client, key):
    return api_client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Token {key}")


def test_a_token_works_again_without_a_database_lookup(api_client, token):
    assert _orders(api_client, token.key).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert _orders(api_client, token.key).status_code == 200
    assert not [q for q in queries.captured_queries if "authtoken" in q["sql"]]


def test_a_deleted_token_is_refused_at_once(api_client, token):
    assert _orders(api_client, token.key).status_code == 200
    token.delete()
    assert _orders(api_client, token.key).status_code == 401


def test_a_deactivated_user_is_refused_at_once(api_client, token):
    assert _orders(api_client, token.key).status_code == 200
    token.user.is_active = False
    token.user.save()
    assert _orders(api_client, token.key).status_code == 401


def test_an_unknown_token_is_refused(api_client):
    assert _orders(api_client, "0" * 40).status_code == 401
