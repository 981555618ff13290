"""Merchant console pages of this app; mounted under /merchant/ in the `console` namespace."""

from django.urls import path

from . import console_views as views

urlpatterns = [
    path("", views.home, name="home"),
    path("switch/", views.switch_merchant, name="switch_merchant"),
    path("profile/", views.profile, name="profile"),
    path("stores/", views.stores, name="stores"),
    path("stores/new/", views.store_create, name="store_create"),
    path("stores/<int:store_id>/", views.store_edit, name="store_edit"),
    path("stores/<int:store_id>/hours/", views.store_hours, name="store_hours"),
    path("stores/<int:store_id>/closed-dates/", views.store_closed_dates, name="store_closed_dates"),
    path("stores/<int:store_id>/closed-dates/remove/", views.store_closed_date_remove, name="store_closed_date_remove"),
    path("stores/<int:store_id>/photos/", views.store_photos, name="store_photos"),
    path("stores/<int:store_id>/photos/<int:photo_id>/cover/", views.store_photo_cover, name="store_photo_cover"),
    path("stores/<int:store_id>/photos/<int:photo_id>/delete/", views.store_photo_delete, name="store_photo_delete"),
]
