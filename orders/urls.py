from django.urls import path

from . import views

app_name = "orders"
urlpatterns = [
    path("book/<int:service_id>/", views.book, name="book"),
    path("checkout/deal/<int:deal_id>/", views.checkout_deal, name="checkout_deal"),
    path("checkout/booking/<int:service_id>/", views.checkout_booking, name="checkout_booking"),
    path("orders/", views.my_orders, name="list"),
    path("orders/<str:number>/", views.order_detail, name="detail"),
]
