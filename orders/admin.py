from django.contrib import admin

from .models import Booking, Order, OrderEvent, OrderItem, SlotLoad


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = ("title", "deal", "service", "unit_price", "quantity", "subtotal")
    readonly_fields = fields


class BookingInline(ReadOnlyInline):
    model = Booking
    fields = ("service", "start", "end", "party_size", "places", "prepaid", "fee_kept", "checked_in_at")
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders are changed only by their services (payments, refunds, cancellations): here they
    are read, searched and, for finance, refunded through the action in payments' admin."""

    list_display = ("number", "kind", "status", "user", "merchant", "store", "total", "created_at")
    list_filter = ("kind", "status", ("merchant", admin.RelatedOnlyFieldListFilter))
    search_fields = ("number", "user__username", "user__phone", "merchant__name", "store__name")
    date_hierarchy = "created_at"
    list_select_related = ("user", "merchant", "store")
    inlines = (OrderItemInline, BookingInline, OrderEventInline)
    readonly_fields = [f.name for f in Order._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SlotLoad)
class SlotLoadAdmin(admin.ModelAdmin):
    list_display = ("service", "start", "taken")
    list_filter = (("service__store", admin.RelatedOnlyFieldListFilter),)
    readonly_fields = ("service", "start", "taken")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
