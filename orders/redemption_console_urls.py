"""Verify and redemption-history pages of the merchant console; mounted under /merchant/ in the
`console` namespace by o2o/console_urls.py."""

from django.urls import path

from . import redemption_console_views as views

urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("verify/lookup/", views.verify_lookup, name="verify_lookup"),
    path("verify/confirm/", views.verify_confirm, name="verify_confirm"),
    path("verify/done/<int:redemption_id>/", views.verify_done, name="verify_done"),
    path("redemptions/", views.redemptions, name="redemptions"),
    path("redemptions/export.csv", views.redemptions_export, name="redemptions_export"),
    path("redemptions/<int:redemption_id>/undo/", views.redemption_undo, name="redemption_undo"),
]
