"""Merchant API of in-store redemption (DESIGN §10): look up, confirm, history, undo.

Thin views over orders.redemption. Statuses: 201 a new redemption, 200 the first result of a
repeated `request_key` (with `"replayed": true`); 404 unknown code or another merchant's (one
answer for both), 409 already used (`redeemed_at` and `redeemed_store` in the body), 410 expired
or refunded, 400 bad input or a usage rule not met, 429 too many wrong codes (`Retry-After`).
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from coupons.models import Redemption
from merchants.access import EVERYONE, IsMerchantMember
from o2o.ratelimit import client_ip

from .. import redemption as flow

# --- serializers -------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class AlreadyUsedSerializer(ErrorSerializer):
    redeemed_at = serializers.DateTimeField(allow_null=True)
    redeemed_store = serializers.DictField(allow_null=True, help_text="{id, name} of the store where it was used")


class CodeAtStoreSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=flow.MAX_CODE_INPUT, help_text="12 digits; spaces and dashes are ignored")
    store = serializers.IntegerField(
        min_value=1, max_value=flow.MAX_ID, help_text="One of the signed-in member's stores"
    )


class RedeemRequestSerializer(CodeAtStoreSerializer):
    request_key = serializers.CharField(
        max_length=flow.MAX_REQUEST_KEY,
        required=False,
        allow_blank=True,
        help_text="Idempotency key: the same key again returns the first redemption (200).",
    )


class UndoRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=flow.MAX_REASON)


class RedemptionSerializer(serializers.ModelSerializer):
    """One redemption as the merchant sees it (a row of the history)."""

    voucher = serializers.IntegerField(source="voucher_id")
    code = serializers.CharField(source="voucher.code_display")
    order = serializers.IntegerField(source="voucher.order_id", allow_null=True)
    order_number = serializers.SerializerMethodField()
    kind = serializers.CharField(source="voucher.kind")
    title = serializers.CharField(source="voucher.title")
    amount = serializers.DecimalField(source="voucher.amount", max_digits=12, decimal_places=2)
    store = serializers.IntegerField(source="store_id")
    store_name = serializers.CharField(source="store.name")
    redeemed_by = serializers.IntegerField(source="redeemed_by_id")
    redeemed_by_name = serializers.CharField(source="redeemed_by.shown_name")
    undone_by = serializers.IntegerField(source="undone_by_id", allow_null=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Redemption
        fields = [
            "id",
            "voucher",
            "code",
            "order",
            "order_number",
            "kind",
            "title",
            "amount",
            "store",
            "store_name",
            "redeemed_at",
            "redeemed_by",
            "redeemed_by_name",
            "ip",
            "device",
            "status",
            "undone_at",
            "undone_by",
            "undo_reason",
            "settled_at",
        ]

    def get_order_number(self, redemption) -> str | None:
        order = redemption.voucher.order
        return order.number if order else None

    def get_status(self, redemption) -> str:
        return flow.HistoryStatus.UNDONE if redemption.undone_at else flow.HistoryStatus.LIVE


class RedeemResponseSerializer(RedemptionSerializer):
    replayed = serializers.SerializerMethodField()

    class Meta(RedemptionSerializer.Meta):
        fields = [*RedemptionSerializer.Meta.fields, "replayed"]

    def get_replayed(self, redemption) -> bool:
        return bool(getattr(redemption, "replayed", False))


class BookingInfoSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    party_size = serializers.IntegerField()
    service = serializers.CharField(source="service.name")


class ContentItemSerializer(serializers.Serializer):
    name = serializers.CharField()
    quantity = serializers.CharField(required=False, allow_null=True)
    price = serializers.CharField(required=False, allow_null=True)


class LookupSerializer(serializers.Serializer):
    """What the Verify screen shows before the confirm."""

    voucher = serializers.IntegerField(source="voucher.pk")
    code = serializers.CharField(source="code_display")
    kind = serializers.CharField()
    title = serializers.CharField()
    order = serializers.IntegerField(source="voucher.order_id", allow_null=True)
    order_number = serializers.SerializerMethodField()
    customer = serializers.CharField(help_text="Masked name of the consumer")
    units_left = serializers.IntegerField(help_text="Vouchers of the order still usable, this one included")
    units_total = serializers.IntegerField()
    visit_left = serializers.IntegerField(allow_null=True, help_text="More of this deal usable in this visit")
    valid_from = serializers.DateTimeField(source="voucher.valid_from")
    valid_until = serializers.DateTimeField()
    store = serializers.IntegerField(source="store.pk")
    contents = ContentItemSerializer(many=True)
    usage_notes = serializers.CharField()
    weekdays_only = serializers.SerializerMethodField()
    max_per_visit = serializers.SerializerMethodField()
    booking = BookingInfoSerializer(allow_null=True)
    request_key = serializers.SerializerMethodField(help_text="A fresh key to send with the confirm")

    def get_order_number(self, lookup) -> str | None:
        return lookup.order.number if lookup.order else None

    def get_weekdays_only(self, lookup) -> bool:
        return bool(lookup.voucher.deal and lookup.voucher.deal.weekdays_only)

    def get_max_per_visit(self, lookup) -> int | None:
        return lookup.voucher.deal.max_per_visit if lookup.voucher.deal else None

    def get_request_key(self, lookup) -> str:
        return self.context["request_key"]


class HistoryQuerySerializer(serializers.Serializer):
    store = serializers.IntegerField(required=False, min_value=1, max_value=flow.MAX_ID)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    status = serializers.ChoiceField(
        choices=[flow.HistoryStatus.LIVE, flow.HistoryStatus.UNDONE], required=False, allow_blank=True
    )
    member = serializers.IntegerField(
        required=False, min_value=1, max_value=flow.MAX_ID, help_text="User id of the staff who redeemed"
    )

    def validate(self, data):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise serializers.ValidationError({"date_to": [_("The end date is before the start date.")]})
        return data


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input or a usage rule not met"),
    404: OpenApiResponse(ErrorSerializer, description="No voucher with this code for your stores"),
    409: OpenApiResponse(AlreadyUsedSerializer, description="Already used (when and where)"),
    410: OpenApiResponse(ErrorSerializer, description="Expired or refunded"),
    429: OpenApiResponse(ErrorSerializer, description="Too many wrong codes; see Retry-After"),
}


def _device(request):
    return request.META.get("HTTP_USER_AGENT", "")[:200]


# --- views -----------------------------------------------------------------------------------------


class MerchantApiView:
    permission_classes = [IsAuthenticated, IsMerchantMember]
    merchant_roles = EVERYONE


class RedemptionListCreate(MerchantApiView, generics.ListAPIView):
    """GET: the redemption history of the member's stores. POST: confirm a code (step two)."""

    serializer_class = RedemptionSerializer
    filter_backends = []

    @extend_schema(
        tags=["merchant"],
        summary="Redemption history",
        parameters=[
            HistoryQuerySerializer,
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no member
            return Redemption.objects.none()
        query = HistoryQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        v = query.validated_data
        member = self.request.member
        store = flow.store_for_member(member, v["store"]) if v.get("store") else None
        return flow.redemptions_for_member(
            member,
            store=store,
            date_from=v.get("date_from"),
            date_to=v.get("date_to"),
            status=v.get("status") or None,
            redeemed_by=v.get("member"),
        )

    @extend_schema(
        tags=["merchant"],
        summary="Redeem a voucher code at a store",
        request=RedeemRequestSerializer,
        responses={201: RedeemResponseSerializer, 200: RedeemResponseSerializer, **ERRORS},
    )
    def post(self, request):
        data = RedeemRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        member = request.member
        redemption = flow.voucher_redeem(
            code=v["code"],
            member=member,
            store=flow.store_for_member(member, v["store"]),
            request_key=v.get("request_key", ""),
            ip=client_ip(request),
            device=_device(request),
        )
        code = status.HTTP_200_OK if redemption.replayed else status.HTTP_201_CREATED
        return Response(RedeemResponseSerializer(redemption).data, status=code)


class RedemptionLookup(MerchantApiView, APIView):
    """Step one: what a code is for, whose it is and what is left, or why it is refused."""

    @extend_schema(
        tags=["merchant"],
        summary="Look a voucher code up",
        request=CodeAtStoreSerializer,
        responses={200: LookupSerializer, **ERRORS},
    )
    def post(self, request):
        data = CodeAtStoreSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = request.member
        lookup = flow.voucher_lookup(
            code=data.validated_data["code"],
            member=member,
            store=flow.store_for_member(member, data.validated_data["store"]),
        )
        return Response(LookupSerializer(lookup, context={"request_key": flow.new_request_key()}).data)


class RedemptionUndo(MerchantApiView, APIView):
    """Undo a redemption within an hour, with a reason (owner, manager, or the clerk who did it)."""

    @extend_schema(
        tags=["merchant"],
        summary="Undo a redemption",
        request=UndoRequestSerializer,
        responses={
            200: RedemptionSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Reason missing"),
            403: OpenApiResponse(ErrorSerializer, description="A clerk undoing another's redemption"),
            404: OpenApiResponse(ErrorSerializer, description="Not one of your stores' redemptions"),
            409: OpenApiResponse(ErrorSerializer, description="Settled, past the hour, or a booking check-in"),
        },
    )
    def post(self, request, pk):
        member = request.member
        redemption = flow.redemption_for_member(member, pk)
        raw = request.data.get("reason") if isinstance(request.data, dict) else None
        redemption = flow.redemption_undo(
            redemption=redemption,
            member=member,
            reason=raw if isinstance(raw, str) else "",
            ip=client_ip(request),
            device=_device(request),
        )
        return Response(RedemptionSerializer(flow.redemption_for_member(member, redemption.pk)).data)
