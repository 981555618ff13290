"""Reads of the inbox, always scoped to one person."""

from .models import Notification


def notifications_for_user(user, *, unread=None):
    """`user`'s notifications, newest first; `unread` True/False filters on the read mark."""
    notifications = Notification.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
    if unread is True:
        notifications = notifications.filter(read_at__isnull=True)
    elif unread is False:
        notifications = notifications.filter(read_at__isnull=False)
    return notifications


def unread_count(user):
    """One COUNT over the partial index of unread notifications."""
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()


def existing_dedupe_keys(keys):
    """Which of `keys` already have their notification: periodic reminders skip those cheaply
    (notify() would find them too, after rendering the message for nothing)."""
    return set(Notification.objects.filter(dedupe_key__in=list(keys)).values_list("dedupe_key", flat=True))
