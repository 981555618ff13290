"""The one dispatch path: notify() writes the inbox entry and its deliveries; a worker sends
each delivery exactly once (delivery_send); a periodic sweep picks up what a dead worker left.

This app is called by every domain app and calls none of them: callers hand it the recipient,
the words that go into the message, a link and what the message is about.
"""

import datetime as dt
import logging

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.template import Context
from django.template.loader import select_template
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from o2o.errors import NotFound

from .channels import PermanentChannelError, get_channel
from .models import Category, ChannelPreference, Delivery, Notification

logger = logging.getLogger(__name__)

# Attempts of one delivery before it is marked failed (tasks.deliver_task retries with backoff).
MAX_ATTEMPTS = 5
# A pending delivery untouched this long lost its task (a dead worker, a broker that was down
# at commit): the sweep queues it again. Longer than the longest retry countdown.
STUCK_AFTER = dt.timedelta(minutes=5)
DEFAULT_SENDING_LEASE_SECONDS = 120
MESSAGE_TEMPLATES = "notifications/messages"


class DeliveryNotYetSent(Exception):
    """The channel failed and attempts are left: the task retries with backoff."""


# --- rendering -------------------------------------------------------------------------------


def _languages_for(language):
    """The recipient's language, its base ("zh" of "zh-hans"), then the site's."""
    candidates = [language, (language or "").split("-")[0], settings.LANGUAGE_CODE]
    return [code for code in dict.fromkeys(candidates) if code]


def render_message(kind, context, *, language):
    """(title, body) of a message: `<kind>.<language>.txt`, first line the title, the rest the
    body. Rendered with the recipient's language active so dates and numbers read right."""
    names = [f"{MESSAGE_TEMPLATES}/{kind}.{code}.txt" for code in _languages_for(language)]
    template = select_template(names)
    with translation.override(language or settings.LANGUAGE_CODE):
        # Plain text: nothing is HTML-escaped ("&" stays "&" in an e-mail subject).
        text = template.template.render(Context(context, autoescape=False))
    lines = [line.rstrip() for line in text.strip().splitlines()]
    title = lines[0].strip() if lines else kind
    body = "\n".join(lines[1:]).strip()
    return title[:200], body


# --- the dispatch path ------------------------------------------------------------------------


def _subject_parts(subject):
    """(label, pk) of the subject: a model instance or an ("app_label.model", pk) pair.

    Callers that may not import the model (this app imports none) pass the pair.
    """
    if subject is None:
        return None, None
    if isinstance(subject, tuple):
        label, pk = subject
        return label.lower(), str(pk)
    return subject._meta.label_lower, str(subject.pk)


def dedupe_key_for(*, kind, subject, user_id):
    """What makes a notification unique: the event, the object it is about, the recipient."""
    label, pk = _subject_parts(subject)
    return f"{kind}:{label}.{pk}:{user_id}"


def _content_type(label):
    app_label, _dot, model = label.partition(".")
    try:
        return ContentType.objects.get_by_natural_key(app_label, model)
    except ContentType.DoesNotExist:
        return None  # an object of a model not installed here; the key still names it


def channel_preferences(user):
    """{category: (e-mail, sms)} for `user`, the defaults filled in."""
    chosen = {pref.category: (pref.email, pref.sms) for pref in ChannelPreference.objects.filter(user_id=user.pk)}
    return {category: chosen.get(category, default) for category, default in ChannelPreference.DEFAULTS.items()}


def _channels_for(user, category):
    """[(channel, address)]: in-app always (the inbox keeps every message, transactional ones
    whatever else is switched off), then e-mail and SMS where the person has an address and
    wants them."""
    email_on, sms_on = channel_preferences(user)[Category(category)]
    channels = [(Delivery.Channel.APP, "")]
    if email_on and user.email:
        channels.append((Delivery.Channel.EMAIL, user.email))
    if sms_on and user.phone:
        channels.append((Delivery.Channel.SMS, user.phone))
    return channels


def notify(*, user, kind, context, link="", subject=None, category=Category.TRANSACTIONAL, dedupe_key=None):
    """Put one message in `user`'s inbox and queue it on their channels; returns the Notification.

    Idempotent: a second call for the same event, object and recipient (the same dedupe key)
    returns the first notification and sends nothing new. Runs in the caller's transaction:
    the deliveries are queued on commit, so a rolled-back caller leaves no message and sends
    nothing. Either `subject` or `dedupe_key` must say what makes the message unique.
    """
    if dedupe_key is None:
        if subject is None:
            raise ValueError("notify() needs a subject or a dedupe_key: a message must be unique")
        dedupe_key = dedupe_key_for(kind=kind, subject=subject, user_id=user.pk)
    dedupe_key = dedupe_key[: Notification._meta.get_field("dedupe_key").max_length]
    existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing  # told again (a retried task, a repeated gateway notice)
    title, body = render_message(kind, context, language=user.language)
    label, subject_id = _subject_parts(subject)
    with transaction.atomic():
        # Race: two callers for the same event at once both pass the check above; the unique
        # key lets one insert, and get_or_create hands the other the winner's row.
        notification, created = Notification.objects.get_or_create(
            dedupe_key=dedupe_key,
            defaults={
                "user": user,
                "kind": kind,
                "category": category,
                "title": title,
                "body": body,
                "link": link,
                "subject_type": _content_type(label) if label else None,
                "subject_id": subject_id or "",
            },
        )
        if not created:
            return notification
        for channel, address in _channels_for(user, category):
            delivery = Delivery.objects.create(notification=notification, channel=channel, address=address)
            # robust: a broker that cannot be reached must not fail the caller's commit; the
            # delivery stays pending and deliveries_retry_stuck queues it again.
            transaction.on_commit(lambda delivery_id=delivery.pk: _enqueue(delivery_id), robust=True)
    return notification


def _enqueue(delivery_id):
    from .tasks import deliver_task

    deliver_task.delay(delivery_id)


# --- sending one delivery ----------------------------------------------------------------------


def _sending_lease():
    seconds = getattr(settings, "NOTIFICATION_SENDING_LEASE_SECONDS", DEFAULT_SENDING_LEASE_SECONDS)
    return dt.timedelta(seconds=seconds)


def _claim(delivery_id, now):
    """Lock the delivery and take it for sending; None when there is nothing to do.

    Nothing to do: already sent, failed for good, or being sent right now by another worker
    (a duplicated task): that worker's lease has not run out.
    """
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("notification__user")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status in (Delivery.Status.SENT, Delivery.Status.FAILED):
        return None
    if delivery.status == Delivery.Status.SENDING and delivery.claimed_at > now - _sending_lease():
        return None
    if delivery.status == Delivery.Status.SENDING:
        # The worker that claimed it died mid-send: the provider may or may not have the
        # message. Sending again with the same idempotency key lets it deliver once.
        logger.warning("delivery %s: resuming a send interrupted after %s", delivery.pk, delivery.claimed_at)
    delivery.status, delivery.claimed_at, delivery.queued_at = Delivery.Status.SENDING, now, now
    delivery.attempts += 1
    delivery.save(update_fields=["status", "claimed_at", "queued_at", "attempts"])
    return delivery


def _mark_sent(delivery, provider_message_id, now):
    # Whoever finishes first marks it; a second finisher (a send resumed after the lease ran
    # out while the first was merely slow) changes nothing.
    Delivery.objects.filter(pk=delivery.pk).exclude(status=Delivery.Status.SENT).update(
        status=Delivery.Status.SENT, sent_at=now, provider_message_id=str(provider_message_id or "")[:100]
    )


def delivery_send(*, delivery_id, now=None):
    """Send one delivery. Safe to run any number of times, also at once: it is sent once.

    Returns the delivery's status. Raises DeliveryNotYetSent when the channel failed and
    attempts are left (the task retries it); after MAX_ATTEMPTS the delivery is marked failed
    with the last error — kept in the admin, never dropped silently.
    """
    now = now or timezone.now()
    channel = None
    with transaction.atomic():
        delivery = _claim(delivery_id, now)
        if delivery is None:
            return None
        channel = get_channel(delivery.channel)
        if not channel.external:
            # Nothing leaves the database: the claim, the send and the mark are one commit.
            _mark_sent(delivery, channel.send(delivery, idempotency_key=str(delivery.idempotency_key)), now)
            return Delivery.Status.SENT
    # Outside the transaction: no lock (and, on SQLite, no write lock on the whole database)
    # is held while a provider takes its time. The committed "sending" mark is the claim.
    try:
        provider_message_id = channel.send(delivery, idempotency_key=str(delivery.idempotency_key))
    except Exception as exc:  # any failure of a channel is recorded and retried, never lost
        return _record_failure(delivery, exc)
    _mark_sent(delivery, provider_message_id, timezone.now())
    return Delivery.Status.SENT


def _record_failure(delivery, exc):
    final = isinstance(exc, PermanentChannelError) or delivery.attempts >= MAX_ATTEMPTS
    status = Delivery.Status.FAILED if final else Delivery.Status.PENDING
    error = f"{type(exc).__name__}: {exc}"[:500]
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=status, last_error=error, queued_at=timezone.now()
    )
    if final:
        logger.error("delivery %s failed after %s attempts: %s", delivery.pk, delivery.attempts, error)
        return Delivery.Status.FAILED
    raise DeliveryNotYetSent(error) from exc


def deliveries_retry_stuck(*, now=None, stuck_after=STUCK_AFTER, limit=1000):
    """Periodic: queue again every delivery whose task was lost. Returns how many.

    Lost: pending and untouched for `stuck_after` (the broker was down at commit, or the
    worker holding the message died), or "sending" past its lease (the worker died mid-send).
    Queuing one that is merely slow is harmless: delivery_send sends it once.
    """
    now = now or timezone.now()
    stuck = Delivery.objects.filter(status=Delivery.Status.PENDING, queued_at__lte=now - stuck_after) | (
        Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lte=now - _sending_lease())
    )
    ids = list(stuck.order_by("queued_at").values_list("pk", flat=True)[:limit])
    # Touch them, so the next sweep does not queue the same ones again while these wait in line.
    Delivery.objects.filter(pk__in=ids, status=Delivery.Status.PENDING).update(queued_at=now)
    for delivery_id in ids:
        _enqueue(delivery_id)
    if ids:
        logger.warning("re-queued %s stuck deliveries", len(ids))
    return len(ids)


# --- the inbox ------------------------------------------------------------------------------------


def notification_mark_read(*, notification_id, user, now=None):
    """Mark one of `user`'s notifications read (again is harmless); NotFound for anyone else's."""
    notification = Notification.objects.filter(pk=notification_id, user_id=user.pk).first()
    if notification is None:
        raise NotFound(_("No such notification."), code="unknown_notification")
    if notification.read_at is None:
        notification.read_at = now or timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


def notifications_mark_all_read(*, user, now=None):
    """Mark every unread notification of `user` read; returns how many changed."""
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).update(read_at=now or timezone.now())


@transaction.atomic
def channel_preferences_set(*, user, choices):
    """Save `choices` {category: (e-mail, sms)}. In-app is not a choice: it always receives."""
    for category, (email_on, sms_on) in choices.items():
        ChannelPreference.objects.update_or_create(
            user=user, category=Category(category), defaults={"email": bool(email_on), "sms": bool(sms_on)}
        )
