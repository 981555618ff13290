"""Console pages of payments; mounted under /merchant/ in the `console` namespace."""

from django.urls import path

from . import console_views as views

urlpatterns = [
    path("bookings/<int:booking_id>/no-show/", views.booking_no_show, name="booking_no_show"),
    path("bookings/<int:booking_id>/cancel/", views.booking_cancel, name="booking_cancel"),
]
