import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from accounts.services import user_register

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_register_creates_user_with_hashed_password():
    user = user_register(username="bob", password="s3cret-pass-123", email="Bob@Example.com")
    assert user.check_password("s3cret-pass-123")
    assert user.email == "bob@example.com"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"username": "bob", "password": "123"}, "password"),
        ({"username": "bad name!", "password": "s3cret-pass-123"}, "username"),
        ({"username": "bob", "password": "s3cret-pass-123", "email": "nope"}, "email"),
        ({"username": "bob", "password": "s3cret-pass-123", "phone": "12ab"}, "phone"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(kwargs, field):
    with pytest.raises(ValidationError) as caught:
        user_register(**kwargs)
    assert field in caught.value.message_dict
    assert not User.objects.exists()


def test_email_and_phone_are_unique(user_factory):
    user_factory(username="ann", email="ann@example.com", phone="13900000000")
    with pytest.raises(ValidationError) as caught:
        user_register(username="ann2", password="s3cret-pass-123", email="ANN@example.com", phone="13900000000")
    assert set(caught.value.message_dict) >= {"email", "phone"}
    assert User.objects.count() == 1
