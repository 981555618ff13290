"""API views for the flows that move money: pay, refund, cancel with refund, and the
merchant's booking actions (check-in, no-show, cancel) that may refund."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from merchants.access import EVERYONE, MANAGERS, IsMerchantMember, member_stores
from o2o.errors import NotAllowed, NotFound
from orders import selectors as order_selectors
from orders import services as order_services
from orders.api.serializers import MerchantBookingSerializer, OrderSerializer, ReasonSerializer
from orders.models import Booking, Order

from .. import services


class PayResponseSerializer(serializers.Serializer):
    payment = serializers.CharField(allow_null=True)
    pay_url = serializers.CharField()


class RefundRequestSerializer(serializers.Serializer):
    vouchers = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100)


class RefundResponseSerializer(serializers.Serializer):
    refund = serializers.IntegerField(allow_null=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.CharField()
    order = OrderSerializer()


def _own_order(request, pk):
    return get_object_or_404(Order, pk=pk, user=request.user)


class OrderPay(APIView):
    """Start paying: returns the gateway's hosted page to open."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: PayResponseSerializer})
    def post(self, request, pk):
        order = _own_order(request, pk)
        payment, url = services.payment_start(order=order, user=request.user, build_url=request.build_absolute_uri)
        return Response({"payment": payment.reference if payment else None, "pay_url": request.build_absolute_uri(url)})


class OrderRefund(APIView):
    """Refund unused vouchers of a paid deal order (all of them when `vouchers` is omitted)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=RefundRequestSerializer, responses={200: RefundResponseSerializer})
    def post(self, request, pk):
        data = RefundRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = _own_order(request, pk)
        voucher_ids = data.validated_data.get("vouchers")
        refund = services.vouchers_refund(order=order, user=request.user, voucher_ids=voucher_ids)
        fresh = order_selectors.orders_for_user(request.user).get(pk=pk)
        return Response(
            {
                "refund": refund.pk if refund else None,
                "amount": str(refund.amount) if refund else "0.00",
                "status": refund.status if refund else "succeeded",
                "order": OrderSerializer(fresh).data,
            }
        )


class OrderCancel(APIView):
    """Cancel an unpaid order, or a booking under its cancellation policy (refunding what the
    policy gives back)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: OrderSerializer})
    def post(self, request, pk):
        order = _own_order(request, pk)
        if order.kind == Order.Kind.BOOKING:
            services.booking_cancel_and_refund(order=order, user=request.user)
        else:
            order_services.order_cancel_unpaid(order=order, actor=request.user)
        return Response(OrderSerializer(order_selectors.orders_for_user(request.user).get(pk=pk)).data)


class MerchantBookingAction(APIView):
    """check-in (every role); no-show and cancel (owners and managers) refund what is due."""

    permission_classes = [IsAuthenticated, IsMerchantMember]
    merchant_roles = EVERYONE
    action = None

    def _booking(self, request, pk):
        store_ids = member_stores(request.member).values_list("pk", flat=True)
        booking = Booking.objects.filter(pk=pk, store_id__in=store_ids).select_related("order", "store__city").first()
        if booking is None:
            raise NotFound(_("No such booking."))
        return booking

    @extend_schema(request=ReasonSerializer, responses={200: MerchantBookingSerializer})
    def post(self, request, pk):
        booking = self._booking(request, pk)
        if self.action != "check_in" and request.member.role not in MANAGERS:
            raise NotAllowed(_("Only owners and managers may do this."))
        if self.action == "check_in":
            order_services.booking_check_in(order=booking.order, actor=request.user)
        elif self.action == "no_show":
            services.booking_no_show_and_refund(order=booking.order, actor=request.user)
        else:
            reason = ReasonSerializer(data=request.data)
            reason.is_valid(raise_exception=True)
            services.booking_cancel_by_merchant_and_refund(
                order=booking.order, actor=request.user, reason=reason.validated_data["reason"]
            )
        booking = Booking.objects.select_related("order__user", "service").get(pk=booking.pk)
        return Response(MerchantBookingSerializer(booking).data)
