"""Mounted under /api/v1/me/ (o2o/api_urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("notifications/", views.NotificationList.as_view(), name="api-my-notifications"),
    path("notifications/read-all/", views.NotificationReadAll.as_view(), name="api-my-notifications-read-all"),
    path("notifications/<int:pk>/read/", views.NotificationRead.as_view(), name="api-my-notification-read"),
]
