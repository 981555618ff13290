"""The platform's URLs plus floor views: what one ORM query (or one INSERT) and a JSON
answer cost."""

from django.contrib.contenttypes.models import ContentType
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from merchants.models import City
from o2o.models import AuditEvent


def floor(request):
    """The cheapest useful page: one SELECT through the ORM, a tiny JSON body."""
    return JsonResponse({"cities": City.objects.count()})


@csrf_exempt
@require_POST
def floor_insert(request):
    """The cheapest useful write: one INSERT through the ORM (autocommit), a tiny JSON body.
    The floor for POST /api/v1/orders/ in bench/flash_sale.py."""
    event = AuditEvent.objects.create(
        action="bench.floor", content_type=ContentType.objects.get_for_model(City), object_id="0"
    )
    return JsonResponse({"id": event.pk}, status=201)


urlpatterns = [
    path("bench/floor/", floor),
    path("bench/floor-insert/", floor_insert),
    path("", include("o2o.urls")),
]
