"""Booking pages of the merchant console; mounted under /merchant/ in the `console` namespace."""

from django.urls import path

from . import console_views as views

urlpatterns = [
    path("bookings/", views.bookings, name="bookings"),
    path("bookings/<int:booking_id>/check-in/", views.booking_check_in, name="booking_check_in"),
    path("policies/", views.policies, name="policies"),
]
