"""Consumer pages of discovery: home, search and the store page. Onboarding lives in apply_views."""

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import urlencode

from . import geo
from .api.filters import ORDERING_CHOICES, StoreFilter
from .apply_views import apply  # noqa: F401  (merchants/urls.py routes "merchants:apply" here)
from .context_processors import choose_city, current_city
from .models import Merchant
from .selectors import (
    bookable_services,
    categories_for_choice,
    deals_on_sale,
    popular_stores,
    store_for_page,
    top_categories,
    upcoming_closed_dates,
    weekly_hours,
)

SEARCH_PAGE_SIZE = 20
RADIUS_CHOICES_KM = (1, 3, 5, 10, 20, 50)


def home(request):
    """City, categories, "near me" and the city's popular stores. `?city=` switches city."""
    if "city" in request.GET:
        choose_city(request, request.GET["city"])
        return redirect("home")
    city = current_city(request)
    context = {"categories": top_categories(), "popular": popular_stores(city=city)}
    return render(request, "merchants/home.html", context)


def search(request):
    """Store search with the API's filters; bad filter values answer 400 with the reasons."""
    filterset = StoreFilter(request.GET)
    context = {
        "form": filterset.form,
        "category_choices": categories_for_choice(),
        "radius_choices": RADIUS_CHOICES_KM,
        "page_obj": None,
        "checked": {name: _is_checked(filterset.form, name) for name in ("open_now", "has_deals")},
    }
    if not filterset.is_valid():
        return render(request, "merchants/search.html", context, status=400)

    arguments = filterset.search_arguments()
    if arguments["city"]:
        choose_city(request, arguments["city"])
    has_point = arguments["lat"] is not None
    page_obj = Paginator(filterset.qs, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    context.update(
        {
            "page_obj": page_obj,
            "stores": page_obj.object_list,
            "has_point": has_point,
            # Store links carry the point so that the store page can show the distance.
            "point_query": urlencode({"lat": arguments["lat"], "lng": arguments["lng"]}) if has_point else "",
            "ordering": arguments["ordering"] or ("distance" if has_point else "-rating"),
            "orderings": [(key, label) for key, label in ORDERING_CHOICES if has_point or key != "distance"],
            "is_filtered": any(value not in (None, False) for value in arguments.values()),
        }
    )
    return render(request, "merchants/search.html", context)


def _is_checked(form, name):
    """Whether a yes/no filter's box should show ticked, even when another filter is invalid."""
    try:
        return bool(form.fields[name].to_python(form.data.get(name)))
    except ValidationError:
        return False


def store_detail(request, pk):
    """A store's page; a suspended merchant's store answers 404 with the reason in plain words."""
    store = store_for_page(pk)
    if store is None or not store.is_published:
        raise Http404
    if store.merchant.status == Merchant.Status.SUSPENDED:
        return render(request, "merchants/store_unavailable.html", {"store": store}, status=404)
    if store.merchant.status != Merchant.Status.APPROVED:
        raise Http404

    point = geo.parse_point(request.GET.get("lat"), request.GET.get("lng"))
    distance_km = geo.haversine_km(*point, store.latitude, store.longitude) if point else None
    context = {
        "store": store,
        "photos": list(store.photos.all()),
        "weekly_hours": weekly_hours(store),
        "closed_dates": upcoming_closed_dates(store),
        "is_open_now": store.is_open_now,
        "distance_km": distance_km,
        "services": bookable_services(store),
        "deals": deals_on_sale(store),
    }
    return render(request, "merchants/store_detail.html", context)
