"""Consumer pages of discovery and onboarding."""

from django.urls import path

from . import views

app_name = "merchants"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("stores/<int:pk>/", views.store_detail, name="store"),
    path("merchants/apply/", views.apply, name="apply"),
]
