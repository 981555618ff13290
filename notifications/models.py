"""The inbox (one Notification per event, object and recipient), the deliveries of each one to
its channels, and what each person wants to receive where.

How a message travels is in docs/notifications.md; the short version: `services.notify` writes a
Notification and one Delivery per channel in the caller's transaction, and a worker sends each
Delivery (`tasks.deliver_task`), exactly once per delivery however often the task runs.
"""

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    """Why a message is sent; people choose their e-mail and SMS channels per category."""

    TRANSACTIONAL = "transactional", _("Orders, payments and bookings")
    REMINDERS = "reminders", _("Reminders")
    MARKETING = "marketing", _("Offers and news")


class Notification(models.Model):
    """One message in one person's inbox, rendered once in their language."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=40, db_index=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    # What the message is about (an order, a refund...), when there is one. The content type
    # is a lazy reference: this app imports no domain model.
    subject_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject_id = models.CharField(max_length=40, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    # "<kind>:<subject>:<user id>": each (event, object, recipient) exists once, so a repeated
    # event (a retried task, a gateway notifying twice) finds the first row and sends nothing.
    dedupe_key = models.CharField(max_length=200, unique=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_recent"),
            # The header's unread badge: a COUNT over this small partial index.
            models.Index(fields=["user"], name="notification_user_unread", condition=models.Q(read_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.kind} → {self.user_id}: {self.title}"

    def get_absolute_url(self):
        return reverse("notifications:open", args=[self.pk])

    @property
    def is_read(self):
        return self.read_at is not None


class Delivery(models.Model):
    """One notification on one channel: the unit of sending, retrying and accounting."""

    class Channel(models.TextChoices):
        APP = "app", _("In-app")
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        # Claimed by a worker that is calling the provider. A worker that dies here leaves the
        # row "sending"; once the lease has passed the next attempt sends again with the same
        # idempotency key, so a provider that honours it delivers the message once.
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    # Where it goes (e-mail address or phone), fixed when the notification is made, so every
    # retry goes to the same place.
    address = models.CharField(max_length=254, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    provider_message_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When a task for this delivery was last queued or attempted: the periodic sweep re-queues
    # pending deliveries that nothing has touched for a while (their task was lost).
    queued_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery_per_channel"),
        ]
        indexes = [
            models.Index(
                fields=["queued_at"], name="delivery_unfinished", condition=models.Q(status__in=["pending", "sending"])
            ),
        ]

    def __str__(self):
        return f"{self.notification_id}/{self.channel}: {self.status}"


class ChannelPreference(models.Model):
    """Whether one person wants e-mail and SMS for one category (no row: the defaults).

    The in-app inbox always receives everything: it is where a transactional message is kept
    whatever the other channels say.
    """

    # (e-mail, SMS) for someone who never chose: marketing needs a yes first.
    DEFAULTS = {
        Category.TRANSACTIONAL: (True, True),
        Category.REMINDERS: (True, True),
        Category.MARKETING: (False, False),
    }

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel_preferences")
    category = models.CharField(max_length=16, choices=Category.choices)
    email = models.BooleanField(_("e-mail"), default=True)
    sms = models.BooleanField(_("SMS"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "category"], name="one_preference_per_category")]

    def __str__(self):
        return f"{self.user_id} {self.category}: email={self.email} sms={self.sms}"
