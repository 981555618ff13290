"""Fixed-window counters in the shared cache (Redis in production), so every web
process sees the same count: a limit kept in process memory would multiply by the
number of processes.
"""

import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Window:
    count: int
    limit: int
    retry_after: int

    @property
    def exceeded(self):
        return self.count > self.limit


def _key(scope, ident, window_seconds):
    bucket = int(time.time() // window_seconds)
    return f"rl:{scope}:{ident}:{bucket}", window_seconds - int(time.time() % window_seconds)


def peek(scope, ident, *, limit, window_seconds):
    """The current window without counting a new attempt."""
    key, retry_after = _key(scope, ident, window_seconds)
    return Window(count=cache.get(key, 0), limit=limit, retry_after=retry_after)


def hit(scope, ident, *, limit, window_seconds):
    """Count one attempt and return the window it landed in."""
    key, retry_after = _key(scope, ident, window_seconds)
    # add() is atomic; incr() is atomic on Redis. Racing first hits both land.
    if cache.add(key, 1, timeout=window_seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=window_seconds + 1)
            count = 1
    return Window(count=count, limit=limit, retry_after=retry_after)


def reset(scope, ident, *, window_seconds):
    key, _ = _key(scope, ident, window_seconds)
    cache.delete(key)


def client_ip(request):
    """The client's address. Behind a proxy, the proxy must set REMOTE_ADDR (gunicorn
    --forwarded-allow-ips) rather than this trusting X-Forwarded-For from anyone."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"
