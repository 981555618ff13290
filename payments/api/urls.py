from django.urls import path

from . import views

urlpatterns = [
    path("orders/<int:pk>/pay/", views.OrderPay.as_view(), name="api-order-pay"),
    path("orders/<int:pk>/refund/", views.OrderRefund.as_view(), name="api-order-refund"),
    path("orders/<int:pk>/cancel/", views.OrderCancel.as_view(), name="api-order-cancel"),
    path(
        "merchant/bookings/<int:pk>/check-in/",
        views.MerchantBookingAction.as_view(action="check_in"),
        name="api-merchant-booking-check-in",
    ),
    path(
        "merchant/bookings/<int:pk>/no-show/",
        views.MerchantBookingAction.as_view(action="no_show"),
        name="api-merchant-booking-no-show",
    ),
    path(
        "merchant/bookings/<int:pk>/cancel/",
        views.MerchantBookingAction.as_view(action="cancel"),
        name="api-merchant-booking-cancel",
    ),
]
