"""Discovery API: reference lists, store search and store detail, and a member's own stores."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated

from o2o.api import Pagination

from ..access import IsMerchantMember
from ..models import Category, City, Store
from ..selectors import discoverable_store_detail, member_store_list
from .filters import StoreFilter
from .serializers import (
    CategorySerializer,
    CitySerializer,
    MemberStoreSerializer,
    StoreDetailSerializer,
    StoreListSerializer,
)


class ReferencePagination(Pagination):
    """Reference lists are short: one page holds them all, in the usual envelope."""

    page_size = 500
    max_page_size = 500


@extend_schema(summary="Cities where the platform operates", tags=["discovery"])
class CityList(generics.ListAPIView):
    queryset = City.objects.filter(is_active=True)
    serializer_class = CitySerializer
    pagination_class = ReferencePagination
    filter_backends = []


@extend_schema(summary="Store categories (two levels)", tags=["discovery"])
class CategoryList(generics.ListAPIView):
    queryset = Category.objects.select_related("parent")
    serializer_class = CategorySerializer
    pagination_class = ReferencePagination
    filter_backends = []


@extend_schema(
    summary="Search stores",
    description=(
        "Published stores of approved merchants. Filters combine; bad values answer 400 with the "
        "field named in `errors`. With `lat`/`lng` each result has `distance_km`."
    ),
    tags=["discovery"],
)
class StoreList(generics.ListAPIView):
    serializer_class = StoreListSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = StoreFilter

    def get_queryset(self):
        # StoreFilter runs merchants.selectors.store_search, which starts from these stores.
        return Store.objects.discoverable()


@extend_schema(summary="A store's page in JSON", tags=["discovery"])
class StoreDetail(generics.RetrieveAPIView):
    serializer_class = StoreDetailSerializer
    filter_backends = []

    def get_queryset(self):
        return discoverable_store_detail()


@extend_schema(summary="The signed-in merchant member's stores", tags=["merchant"])
class MemberStoreList(generics.ListAPIView):
    serializer_class = MemberStoreSerializer
    permission_classes = [IsAuthenticated, IsMerchantMember]
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no member
            return Store.objects.none()
        return member_store_list(self.request.member)
