from django.urls import path

from . import views

app_name = "payments"
urlpatterns = [
    path("orders/<str:number>/pay/", views.pay, name="pay"),
    path("orders/<str:number>/cancel/", views.cancel, name="cancel"),
    path("orders/<str:number>/refund/", views.refund, name="refund"),
    path("payments/<str:reference>/return/", views.payment_return, name="return"),
    path("payments/notify/<str:gateway>/", views.notify, name="notify"),
    path("sandbox-gateway/pay/<str:transaction_id>/", views.sandbox_page, name="sandbox_page"),
]
