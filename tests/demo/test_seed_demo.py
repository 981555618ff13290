import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_seed_demo_refuses_when_debug_is_off():
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_seed_demo_makes_the_promised_accounts_and_is_idempotent(capsys):
    call_command("seed_demo", "--force")
    out = capsys.readouterr().out
    for username in ("admin", "alice", "owner", "clerk"):
        assert username in out
        assert User.objects.get(username=username).check_password("demo12345")
    assert User.objects.get(username="admin").is_superuser
    counts = User.objects.count()
    call_command("seed_demo", "--force")
    assert User.objects.count() == counts
