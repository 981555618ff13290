from django.urls import path

from . import views

urlpatterns = [
    path("cities/", views.CityList.as_view(), name="api-cities"),
    path("categories/", views.CategoryList.as_view(), name="api-categories"),
    path("stores/", views.StoreList.as_view(), name="api-stores"),
    path("stores/<int:pk>/", views.StoreDetail.as_view(), name="api-store"),
    path("merchant/stores/", views.MemberStoreList.as_view(), name="api-merchant-stores"),
]
