"""The unread count for the header's inbox badge."""

from django.utils.functional import SimpleLazyObject

from . import selectors


def _count_once(request):
    """One COUNT per request, only for a signed-in person, only when a template shows it."""
    if not hasattr(request, "_unread_notifications"):
        user = getattr(request, "user", None)
        request._unread_notifications = selectors.unread_count(user) if user and user.is_authenticated else 0
    return request._unread_notifications


def unread_count(request):
    return {"unread_notifications": SimpleLazyObject(lambda: _count_once(request))}
