"""API token authentication that reads the token's user from the shared cache.

Every API call authenticates; looking the token up in the database costs more than the rest
of a cheap request (a flash sale's "sold out" answer). The user is kept in the cache (Redis in
production, shared by every process) for a few minutes and dropped at once when the token is
deleted or the user changes (accounts/signals.py), so a revoked token or a deactivated
account stops working immediately.
"""

import hashlib

from django.core.cache import cache
from rest_framework.authentication import TokenAuthentication

TOKEN_CACHE_SECONDS = 300


def token_cache_key(key):
    # The token itself never goes into the cache's key space.
    return "auth:token:" + hashlib.sha256(key.encode()).hexdigest()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        cache_key = token_cache_key(key)
        user = cache.get(cache_key)
        if user is not None:
            return user, key
        user, token = super().authenticate_credentials(key)  # refuses unknown keys and inactive users
        cache.set(cache_key, user, TOKEN_CACHE_SECONDS)
        return user, token
