"""Read-only admin of what was said to whom and how each channel fared.

Rows are written by notifications.services only; operators look, filter and search here (a
failed delivery keeps its last error, so nothing fails unseen).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Delivery, Notification

USER_SEARCH = ("user__username", "user__email", "user__phone")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ("channel", "status", "address", "attempts", "last_error", "sent_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "kind", "title", "read_at")
    list_filter = ("kind", "category", ("read_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = (*USER_SEARCH, "dedupe_key", "title")
    search_help_text = _("Username, e-mail, phone, title or dedupe key.")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    fields = (
        "created_at",
        "user",
        "kind",
        "category",
        "title",
        "body",
        "link",
        "subject_type",
        "subject_id",
        "dedupe_key",
        "read_at",
    )
    readonly_fields = fields
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("pk", "notification", "user", "channel", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", "channel", "notification__kind")
    search_fields = (*(f"notification__{field}" for field in USER_SEARCH), "address")
    search_help_text = _("Recipient's username, e-mail or phone, or the address sent to.")
    list_select_related = ("notification__user",)
    fields = (
        "notification",
        "channel",
        "status",
        "address",
        "idempotency_key",
        "attempts",
        "last_error",
        "provider_message_id",
        "created_at",
        "queued_at",
        "claimed_at",
        "sent_at",
    )
    readonly_fields = fields

    @admin.display(description=_("user"), ordering="notification__user__username")
    def user(self, delivery):
        return delivery.notification.user
