from django.contrib import admin

from .models import Redemption, Voucher


class RedemptionInline(admin.TabularInline):
    model = Redemption
    extra = 0
    can_delete = False
    fields = ("redeemed_at", "store", "redeemed_by", "ip", "undone_at", "undo_reason", "settled_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    """Vouchers change state only through redemption, refund and expiry services."""

    list_display = ("code_display", "kind", "status", "title", "user", "merchant", "amount", "valid_until")
    list_filter = ("kind", "status", ("merchant", admin.RelatedOnlyFieldListFilter))
    search_fields = ("code", "order__number", "user__username", "user__phone")
    list_select_related = ("user", "merchant")
    readonly_fields = [f.name for f in Voucher._meta.fields]
    inlines = (RedemptionInline,)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Redemption)
class RedemptionAdmin(admin.ModelAdmin):
    list_display = ("voucher", "store", "redeemed_by", "redeemed_at", "undone_at", "settled_at")
    list_filter = (("merchant", admin.RelatedOnlyFieldListFilter), "undone_at", "settled_at")
    search_fields = ("voucher__code", "redeemed_by__username", "store__name")
    date_hierarchy = "redeemed_at"
    list_select_related = ("voucher", "store", "redeemed_by")
    readonly_fields = [f.name for f in Redemption._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
