"""Read-only admin for the audit trail: who did what to which object, and when."""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "actor", "subject_link", "ip")
    list_filter = ("action", "content_type")
    search_fields = ("action", "object_id", "actor__username")
    search_help_text = _("Action (e.g. merchant.suspended), object id or actor's username.")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "content_type")
    fields = ("created_at", "action", "actor", "content_type", "object_id", "subject_link", "data", "ip")
    readonly_fields = fields

    @admin.display(description=_("subject"))
    def subject_link(self, event):
        label = f"{event.content_type.model} #{event.object_id}"
        try:
            url = reverse(
                f"admin:{event.content_type.app_label}_{event.content_type.model}_change", args=[event.object_id]
            )
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    # The trail is written by services only; nobody edits or deletes it here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
