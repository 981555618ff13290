"""The inbox pages: the list, one message (opening it marks it read), mark all read, and the
channel preferences."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import ChannelPreferencesForm
from .models import Notification

PAGE_SIZE = 20


@login_required
def inbox(request):
    paginator = Paginator(selectors.notifications_for_user(request.user), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page})


@login_required
def open_notification(request, pk):
    """Show one message and mark it read. A GET that writes, on purpose: opening is reading,
    and doing it again changes nothing."""
    notification = get_object_or_404(Notification, pk=pk, user_id=request.user.pk)
    services.notification_mark_read(notification_id=notification.pk, user=request.user)
    link = notification.link
    safe_link = link if link and url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}) else ""
    return render(request, "notifications/detail.html", {"notification": notification, "link": safe_link})


@login_required
@require_POST
def read_all(request):
    changed = services.notifications_mark_all_read(user=request.user)
    if changed:
        messages.success(request, _("All messages are marked as read."))
    return redirect("notifications:inbox")


@login_required
def preferences(request):
    current = services.channel_preferences(request.user)
    # Not `request.POST or None`: with every box unticked the POST is empty, and still a choice.
    form = ChannelPreferencesForm(request.POST if request.method == "POST" else None, current=current)
    if request.method == "POST" and form.is_valid():
        services.channel_preferences_set(user=request.user, choices=form.choices())
        messages.success(request, _("Your notification settings are saved."))
        return redirect("notifications:preferences")
    context = {"form": form, "has_email": bool(request.user.email), "has_phone": bool(request.user.phone)}
    return render(request, "notifications/preferences.html", context)
