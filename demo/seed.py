"""The demo data builders, one function per part, each idempotent."""

import random

from django.contrib.auth import get_user_model
from django.db import transaction


def ensure_user(username, password, **fields):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults=fields)
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def seed_accounts(password):
    accounts = [
        ("admin", "platform admin", {"is_staff": True, "is_superuser": True, "display_name": "Admin"}),
        ("alice", "consumer", {"display_name": "Alice", "email": "alice@example.com", "phone": "13800000001"}),
        ("owner", "merchant owner", {"display_name": "Owner", "email": "owner@example.com"}),
        ("clerk", "merchant clerk", {"display_name": "Clerk"}),
    ]
    users = {}
    for username, _role, fields in accounts:
        users[username] = ensure_user(username, password, **fields)
    return users, [(username, role) for username, role, _fields in accounts]


def seed_all(*, stores=None, seed=1, password, log=print):
    rng = random.Random(seed)
    users, accounts = seed_accounts(password)
    _ = (rng, users, stores)
    return {"accounts": accounts}
