from django.urls import path

from . import views

urlpatterns = [
    path("orders/", views.OrderListCreate.as_view(), name="api-orders"),
    path("orders/<int:pk>/", views.OrderDetail.as_view(), name="api-order"),
    path("orders/<int:pk>/reschedule/", views.OrderReschedule.as_view(), name="api-order-reschedule"),
    path("stores/<int:pk>/availability/", views.StoreAvailability.as_view(), name="api-store-availability"),
    path("merchant/bookings/", views.MerchantBookingList.as_view(), name="api-merchant-bookings"),
]

# In-store redemption (DESIGN §10): orders/api/redemptions.py.
from . import redemptions  # noqa: E402

urlpatterns += [
    path("merchant/redemptions/", redemptions.RedemptionListCreate.as_view(), name="api-merchant-redemptions"),
    path("merchant/redemptions/lookup/", redemptions.RedemptionLookup.as_view(), name="api-merchant-redemption-lookup"),
    path(
        "merchant/redemptions/<int:pk>/undo/",
        redemptions.RedemptionUndo.as_view(),
        name="api-merchant-redemption-undo",
    ),
]
