"""The current city: every consumer page shows it in the header and starts searches in it."""

from django.utils.functional import SimpleLazyObject

from .selectors import active_cities

SESSION_KEY = "city"


def cities_of(request):
    """Active cities, read once per request (the header and the page both use them)."""
    if not hasattr(request, "_active_cities"):
        request._active_cities = active_cities()
    return request._active_cities


def current_city(request):
    """The city chosen in this session, else the first active city (None when there is none)."""
    cities = cities_of(request)
    chosen = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    for city in cities:
        if city.slug == chosen:
            return city
    return cities[0] if cities else None


def choose_city(request, slug):
    """Remember `slug` as the session's city if it is an active city; True when it was."""
    if any(city.slug == slug for city in cities_of(request)):
        request.session[SESSION_KEY] = slug
        return True
    return False


def city(request):
    """`cities` and `current_city` for templates, queried only if a template uses them."""
    return {
        "cities": SimpleLazyObject(lambda: cities_of(request)),
        "current_city": SimpleLazyObject(lambda: current_city(request)),
    }
