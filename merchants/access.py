"""Who may open which part of the merchant console and the merchant API.

Every console view and merchant endpoint goes through `member_required` / `IsMerchantMember`,
which find the signed-in user's membership and refuse everyone else. Views then scope every
query to `request.merchant` (and to `member_stores(request.member)` for store-bound staff).
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.utils.translation import gettext as _
from rest_framework.permissions import BasePermission

from .models import Merchant, MerchantMember, Store

OWNER = MerchantMember.Role.OWNER
MANAGER = MerchantMember.Role.MANAGER
CLERK = MerchantMember.Role.CLERK
MANAGERS = (OWNER, MANAGER)
EVERYONE = (OWNER, MANAGER, CLERK)

SESSION_KEY = "console_merchant_id"


def current_member(request):
    """The membership the console acts as: the one chosen in the session, else the first."""
    if not request.user.is_authenticated:
        return None
    members = MerchantMember.objects.filter(user=request.user).select_related("merchant").order_by("pk")
    chosen = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    member = None
    if chosen:
        member = members.filter(merchant_id=chosen).first()
    return member or members.first()


def member_stores(member):
    """Stores this member may act for: the ones assigned, or all of the merchant's."""
    assigned = member.stores.all()
    if member.role == OWNER or not assigned.exists():
        return Store.objects.filter(merchant_id=member.merchant_id)
    return assigned


def _refuse(request, message, status=403):
    return render(request, "console/refused.html", {"message": message}, status=status)


def member_required(roles=EVERYONE, *, allow_inactive=False):
    """Console view decorator: sets request.member and request.merchant, or refuses."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            member = current_member(request)
            if member is None:
                return _refuse(request, _("This page is for merchant staff. Apply to open your store on the platform."))
            merchant = member.merchant
            if not allow_inactive and merchant.status in (Merchant.Status.APPLIED, Merchant.Status.REJECTED):
                return _refuse(request, _("Your merchant account is not approved yet."))
            if member.role not in roles:
                return _refuse(
                    request, _("Your role (%(role)s) cannot open this page.") % {"role": member.get_role_display()}
                )
            request.member, request.merchant = member, merchant
            return view(request, *args, **kwargs)

        wrapped.console_roles = roles
        return wrapped

    return decorator


class IsMerchantMember(BasePermission):
    """API permission: the user is staff of an approved or suspended merchant with one of
    the view's `merchant_roles` (default: every role)."""

    message = _("Only merchant staff with the right role may do this.")

    def has_permission(self, request, view):
        member = current_member(request)
        if member is None or member.merchant.status in (Merchant.Status.APPLIED, Merchant.Status.REJECTED):
            return False
        if member.role not in getattr(view, "merchant_roles", EVERYONE):
            return False
        request.member, request.merchant = member, member.merchant
        return True
