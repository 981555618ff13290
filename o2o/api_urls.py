"""Every /api/v1/ path, gathered from the apps (DESIGN §10)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("auth/", include("accounts.api.urls")),
    path("", include("merchants.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("payments.api.urls")),
    path("me/", include("notifications.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
