from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog
from django.views.static import serve

from merchants import views as merchant_views

from . import views

urlpatterns = [
    path("", merchant_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("", include("merchants.urls")),
    path("merchant/", include("o2o.console_urls")),
    path("", include("payments.urls")),
    path("", include("orders.urls")),
    path("inbox/", include("notifications.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/v1/", include("o2o.api_urls")),
    path("admin/", admin.site.urls),
]

if settings.SERVE_MEDIA:
    # Uploaded media from the web process: the embedded default and tests. In production a
    # web server or object storage serves MEDIA_URL instead.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
