from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from coupons.models import Voucher

from ..models import Booking, Order, OrderItem


class OrderCreateSerializer(serializers.Serializer):
    """Either a deal purchase `{deal, quantity}` or a booking `{service, start, party_size}`."""

    deal = serializers.IntegerField(required=False, min_value=1)
    quantity = serializers.IntegerField(required=False, min_value=1, max_value=100)
    service = serializers.IntegerField(required=False, min_value=1)
    start = serializers.DateTimeField(required=False)
    party_size = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)
    voucher = serializers.IntegerField(
        required=False, min_value=1, help_text="Book the appointment of a deal voucher (with start and party_size)."
    )
    coupon = serializers.IntegerField(required=False, min_value=1)
    coupons = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=2)

    def validate(self, data):
        is_deal, is_booking = "deal" in data, "service" in data or "voucher" in data
        if is_deal == is_booking or ("service" in data and "voucher" in data):
            raise serializers.ValidationError(
                "Give either a deal (with quantity) or a service (with start and party_size)."
            )
        if is_deal and "quantity" not in data:
            raise serializers.ValidationError({"quantity": ["This field is required."]})
        if is_booking:
            missing = {f: ["This field is required."] for f in ("start", "party_size") if f not in data}
            if missing:
                raise serializers.ValidationError(missing)
        return data


class OrderItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderItem
        fields = ["id", "deal", "service", "title", "unit_price", "quantity", "subtotal"]


class BookingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Booking
        fields = [
            "service",
            "store",
            "start",
            "end",
            "party_size",
            "places",
            "prepaid",
            "price",
            "cancellation_policy",
            "note",
            "fee_kept",
            "checked_in_at",
        ]


class VoucherSerializer(serializers.ModelSerializer):
    class Meta:
        model = Voucher
        fields = [
            "id",
            "code",
            "kind",
            "status",
            "title",
            "amount",
            "valid_from",
            "valid_until",
            "redeemed_at",
            "refunded_at",
        ]


class OrderSerializer(serializers.ModelSerializer):
    items = OrderItemSerializer(many=True, read_only=True)
    booking = serializers.SerializerMethodField()
    store_name = serializers.CharField(source="store.name", read_only=True)
    vouchers = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "kind",
            "status",
            "store",
            "store_name",
            "merchant",
            "currency",
            "subtotal",
            "discount_merchant",
            "discount_platform",
            "total",
            "payment_deadline",
            "paid_at",
            "cancelled_at",
            "cancel_reason",
            "created_at",
            "items",
            "booking",
            "vouchers",
        ]

    @extend_schema_field(BookingSerializer(allow_null=True))
    def get_booking(self, order):
        return BookingSerializer(order.booking).data if order.kind == Order.Kind.BOOKING else None

    @extend_schema_field(VoucherSerializer(many=True))
    def get_vouchers(self, order):
        """The order's voucher codes once paid."""
        return VoucherSerializer(order.vouchers.all(), many=True).data


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    remaining = serializers.IntegerField()


class AvailabilityQuerySerializer(serializers.Serializer):
    service = serializers.IntegerField(min_value=1)
    date = serializers.DateField()


class MerchantBookingSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")
    number = serializers.CharField(source="order.number")
    status = serializers.CharField(source="order.status")
    customer = serializers.CharField(source="order.user.masked_name")
    service_name = serializers.CharField(source="service.name")

    class Meta:
        model = Booking
        fields = [
            "id",
            "order",
            "number",
            "status",
            "customer",
            "service",
            "service_name",
            "store",
            "start",
            "end",
            "party_size",
            "prepaid",
            "note",
            "checked_in_at",
        ]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class RescheduleSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
