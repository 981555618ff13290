"""Channel backends: how a delivery leaves the platform (in-app, e-mail, SMS).

Every channel has one method, `send(delivery, *, idempotency_key) -> provider message id`, and
raises on failure (any exception is recorded and retried by services.delivery_send; a
`PermanentChannelError` fails the delivery at once). The SMS provider is itself behind an
interface chosen by settings.SMS_BACKEND, so a real provider is one class away.
"""

import logging
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

from .models import Delivery

logger = logging.getLogger(__name__)


class ChannelError(Exception):
    """The channel could not send now; trying again later may work."""


class PermanentChannelError(ChannelError):
    """Trying again cannot help (no address, refused by the provider for good)."""


DEFAULT_SITE_URL = "http://127.0.0.1:8000"
DEFAULT_SMS_BACKEND = "notifications.channels.LoggingSmsBackend"


def site_url():
    return getattr(settings, "SITE_URL", "") or DEFAULT_SITE_URL


def absolute_link(link):
    """Links are stored as paths; e-mail and SMS need the site in front."""
    if not link or link.startswith(("http://", "https://")):
        return link
    return site_url().rstrip("/") + link


class Channel:
    name = ""
    # False when sending never leaves the database: claiming and sending are then one step.
    external = True

    def send(self, delivery, *, idempotency_key):
        raise NotImplementedError


class InAppChannel(Channel):
    """The Notification row is the inbox entry: there is nothing more to send."""

    name = Delivery.Channel.APP
    external = False

    def send(self, delivery, *, idempotency_key):
        return ""


class EmailChannel(Channel):
    """Django's mail (console backend in the embedded default, SMTP in production).

    SMTP has no idempotency key; the Message-ID is fixed per delivery, so the rare repeat after
    a worker died mid-send is the same message to the receiving side (and threads with it).
    """

    name = Delivery.Channel.EMAIL

    def send(self, delivery, *, idempotency_key):
        if not delivery.address:
            raise PermanentChannelError("no e-mail address")
        notification = delivery.notification
        body = notification.body
        if notification.link:
            body = f"{body}\n\n{absolute_link(notification.link)}".strip()
        message_id = f"<{idempotency_key}@{urlsplit(site_url()).hostname or 'localhost'}>"
        message = EmailMessage(
            subject=notification.title,
            body=body,
            to=[delivery.address],
            headers={"Message-ID": message_id},
        )
        message.send(fail_silently=False)
        return message_id


class SmsChannel(Channel):
    """Short text through the configured SMS provider."""

    name = Delivery.Channel.SMS
    MAX_LENGTH = 300

    def send(self, delivery, *, idempotency_key):
        if not delivery.address:
            raise PermanentChannelError("no phone number")
        notification = delivery.notification
        text = notification.title
        if notification.body:
            text = f"{text} {notification.body.splitlines()[0]}"
        if notification.link:
            text = f"{text} {absolute_link(notification.link)}"
        return sms_backend().send(phone=delivery.address, text=text[: self.MAX_LENGTH], idempotency_key=idempotency_key)


# --- SMS providers ---------------------------------------------------------------------------


class SmsBackend:
    """An SMS provider. `send` returns the provider's message id or raises.

    A provider worth using takes an idempotency key: a second request with the same key is the
    same message and is not delivered again. The platform always passes the delivery's key,
    also when it sends again after a worker died mid-send.
    """

    def send(self, *, phone, text, idempotency_key):
        raise NotImplementedError


class LoggingSmsBackend(SmsBackend):
    """Writes the text to the log instead of a phone: the embedded default and development."""

    def send(self, *, phone, text, idempotency_key):
        logger.info("SMS to %s [%s]: %s", phone, idempotency_key, text)
        return f"log-{idempotency_key}"


@cache
def _sms_backend_class(path):
    return import_string(path)


def sms_backend():
    return _sms_backend_class(getattr(settings, "SMS_BACKEND", "") or DEFAULT_SMS_BACKEND)()


CHANNELS = {channel.name: channel for channel in (InAppChannel(), EmailChannel(), SmsChannel())}


def get_channel(name):
    return CHANNELS[name]
