from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "email", "phone", "is_staff", "date_joined")
    search_fields = ("username", "display_name", "email", "phone")
    fieldsets = (*BaseUserAdmin.fieldsets, (_("Profile"), {"fields": ("phone", "display_name", "language")}))
