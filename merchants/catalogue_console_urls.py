"""Catalogue pages of the merchant console; mounted under /merchant/ in the `console` namespace."""

from django.urls import path

from . import catalogue_console_views as views

urlpatterns = [
    path("services/", views.services_list, name="services"),
    path("services/new/", views.service_new, name="service_new"),
    path("services/<int:service_id>/", views.service_edit, name="service_edit"),
    path("services/<int:service_id>/schedule/", views.service_schedule, name="service_schedule"),
    path("services/<int:service_id>/schedule/dates/", views.service_date_rule_add, name="service_date_rule_add"),
    path(
        "services/<int:service_id>/schedule/dates/<int:rule_id>/remove/",
        views.service_date_rule_remove,
        name="service_date_rule_remove",
    ),
    path("deals/", views.deals_list, name="deals"),
    path("deals/new/", views.deal_new, name="deal_new"),
    path("deals/<int:deal_id>/", views.deal_edit, name="deal_edit"),
    path("deals/<int:deal_id>/on-sale/", views.deal_set_active, name="deal_set_active"),
]
