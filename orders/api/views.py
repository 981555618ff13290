from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from merchants.access import EVERYONE, IsMerchantMember, member_stores
from merchants.models import Service, Store
from o2o.errors import Invalid

from .. import selectors, services
from ..availability import available_slots
from ..models import Booking, Order
from .serializers import (
    AvailabilityQuerySerializer,
    MerchantBookingSerializer,
    OrderCreateSerializer,
    OrderSerializer,
    RescheduleSerializer,
    SlotSerializer,
)


class OrderListCreate(generics.ListCreateAPIView):
    """The signed-in consumer's orders; POST creates a deal order or a booking."""

    permission_classes = [IsAuthenticated]
    serializer_class = OrderSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Order.objects.none()
        return selectors.orders_for_user(self.request.user)

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderSerializer})
    def post(self, request):
        data = OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if "deal" in v:
            order = services.order_create_for_deal(user=request.user, deal_id=v["deal"], quantity=v["quantity"])
        elif "voucher" in v:
            order = services.order_create_for_appointment(
                user=request.user,
                voucher_id=v["voucher"],
                start=v["start"],
                party_size=v["party_size"],
                note=v.get("note", ""),
            )
        else:
            order = services.order_create_for_booking(
                user=request.user,
                service_id=v["service"],
                start=v["start"],
                party_size=v["party_size"],
                note=v.get("note", ""),
            )
        body = {
            "id": order.pk,
            "number": order.number,
            "kind": order.kind,
            "status": order.status,
            "total": str(order.total),
            "subtotal": str(order.subtotal),
            "payment_deadline": order.payment_deadline,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class OrderDetail(generics.RetrieveAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = OrderSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Order.objects.none()
        return selectors.orders_for_user(self.request.user)


class OrderReschedule(APIView):
    """Move a booking to another free time; the old place is kept until the new one is taken."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=RescheduleSerializer, responses={200: OrderSerializer})
    def post(self, request, pk):
        order = get_object_or_404(Order, pk=pk, user=request.user, kind=Order.Kind.BOOKING)
        data = RescheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.booking_reschedule(order=order, actor=request.user, start=data.validated_data["start"])
        return Response(OrderSerializer(selectors.orders_for_user(request.user).get(pk=pk)).data)


class StoreAvailability(APIView):
    """Bookable slots of one service on one date (store-local): `[{start, end, remaining}]`."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[AvailabilityQuerySerializer],
        responses={200: SlotSerializer(many=True)},
    )
    def get(self, request, pk):
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        store = get_object_or_404(Store.objects.discoverable().select_related("city"), pk=pk)
        try:
            service = (
                Service.objects.select_related("store__city")
                .prefetch_related("schedules", "date_rules", "store__closed_dates")
                .get(pk=query.validated_data["service"], store=store, is_active=True)
            )
        except Service.DoesNotExist:
            raise Invalid(_("This store has no such service."), field="service", code="unknown_service") from None
        slots = available_slots(service, query.validated_data["date"])
        return Response(SlotSerializer(slots, many=True).data)


class MerchantBookingList(generics.ListAPIView):
    """Bookings of the member's stores, on `date` (store-local, default today)."""

    permission_classes = [IsAuthenticated, IsMerchantMember]
    merchant_roles = EVERYONE
    serializer_class = MerchantBookingSerializer

    @extend_schema(parameters=[OpenApiParameter("date", str, description="YYYY-MM-DD"), OpenApiParameter("store", int)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no member
            return Booking.objects.none()
        raw = self.request.query_params.get("date")
        try:
            day = parse_date(raw) if raw else timezone.localdate()
        except ValueError:  # well formed but not a date: 2030-02-30
            day = None
        if day is None:
            raise Invalid(_("Give the date as YYYY-MM-DD."), field="date", code="bad_date")
        stores = list(member_stores(self.request.member).select_related("city"))
        store = self.request.query_params.get("store")
        if store:
            stores = [s for s in stores if store.isdigit() and s.pk == int(store)]
            if not stores:
                raise Invalid(_("Not one of your stores."), field="store", code="unknown_store")
        # Each store's day in its own time zone.
        return selectors.bookings_on_local_day(self.request.merchant, stores, day)
