"""Every write on merchants, their people and stores (onboarding, profile, stores, photos)."""

import itertools

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications import events as notification_events
from o2o.audit import audit
from o2o.errors import Conflict, Invalid, NotFound
from o2o.images import process_upload

from .models import Merchant, MerchantApplication, MerchantMember, Store, StoreClosedDate, StoreHours, StorePhoto

MAX_STORE_PHOTOS = 30


def _check_transition(merchant, target):
    if target not in Merchant.TRANSITIONS[merchant.status]:
        raise Conflict(
            _("A merchant that is %(status)s cannot become %(target)s.")
            % {"status": merchant.get_status_display(), "target": Merchant.Status(target).label},
            code="illegal_transition",
        )


@transaction.atomic
def merchant_apply(*, user, business_name, category, contact_name, contact_phone, licence_image):
    """A signed-in user applies to sell on the platform; staff decide in admin.

    The image is checked before anything is written, so a refused licence creates nothing.
    """
    # Race: two submits of the same form at once would both pass the "already pending" check;
    # the applicant's row lock makes the second wait and then see the first application (the
    # partial unique index would otherwise turn it into an IntegrityError).
    get_user_model().objects.select_for_update(of=("self",)).filter(pk=user.pk).first()
    if MerchantApplication.objects.filter(applicant=user, status=MerchantApplication.Status.PENDING).exists():
        raise Conflict(_("You already have an application waiting for review."), code="application_pending")
    if MerchantMember.objects.filter(user=user, role=MerchantMember.Role.OWNER).exists():
        raise Conflict(_("You already own a merchant."), code="already_owner")
    processed = process_upload(licence_image)
    merchant = Merchant.objects.create(
        name=business_name, category=category, contact_name=contact_name, contact_phone=contact_phone
    )
    application = MerchantApplication(
        applicant=user,
        merchant=merchant,
        business_name=business_name,
        category=category,
        contact_name=contact_name,
        contact_phone=contact_phone,
    )
    application.licence_image.save(processed.name, processed.main, save=False)
    application.save()
    audit("merchant.applied", merchant, actor=user)
    return application


def _lock_application(application):
    return MerchantApplication.objects.select_for_update(of=("self",)).get(pk=application.pk)


def _lock_merchant(merchant_id):
    return Merchant.objects.select_for_update(of=("self",)).get(pk=merchant_id)


@transaction.atomic
def merchant_application_approve(*, application, acting_user):
    """Approve: the merchant goes live and the applicant becomes its owner."""
    application = _lock_application(application)
    merchant = _lock_merchant(application.merchant_id)
    if application.status == MerchantApplication.Status.APPROVED:
        return application  # already done by a concurrent click
    if application.status != MerchantApplication.Status.PENDING:
        raise Conflict(_("This application was already decided."), code="already_decided")
    _check_transition(merchant, Merchant.Status.APPROVED)
    now = timezone.now()
    application.status = MerchantApplication.Status.APPROVED
    application.reviewed_by, application.reviewed_at = acting_user, now
    application.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    merchant.status, merchant.approved_at, merchant.status_reason = Merchant.Status.APPROVED, now, ""
    merchant.save(update_fields=["status", "approved_at", "status_reason"])
    MerchantMember.objects.get_or_create(
        user=application.applicant, merchant=merchant, defaults={"role": MerchantMember.Role.OWNER}
    )
    audit("merchant.approved", merchant, actor=acting_user)
    notification_events.merchant_application_approved(
        applicant=application.applicant,
        application_id=application.pk,
        business_name=application.business_name,
        link=reverse("console:home"),
    )
    return application


@transaction.atomic
def merchant_application_reject(*, application, reason, acting_user):
    if not reason.strip():
        raise Invalid(_("Give the applicant a reason."), field="reason", code="reason_required")
    application = _lock_application(application)
    merchant = _lock_merchant(application.merchant_id)
    if application.status != MerchantApplication.Status.PENDING:
        raise Conflict(_("This application was already decided."), code="already_decided")
    _check_transition(merchant, Merchant.Status.REJECTED)
    application.status = MerchantApplication.Status.REJECTED
    application.decision_reason = reason.strip()
    application.reviewed_by, application.reviewed_at = acting_user, timezone.now()
    application.save(update_fields=["status", "decision_reason", "reviewed_by", "reviewed_at"])
    merchant.status, merchant.status_reason = Merchant.Status.REJECTED, reason.strip()
    merchant.save(update_fields=["status", "status_reason"])
    audit("merchant.rejected", merchant, actor=acting_user, reason=reason)
    notification_events.merchant_application_rejected(
        applicant=application.applicant,
        application_id=application.pk,
        business_name=application.business_name,
        reason=application.decision_reason,
        link=reverse("merchants:apply"),
    )
    return application


@transaction.atomic
def merchant_suspend(*, merchant, reason, acting_user):
    """Hide every store of the merchant from discovery; its pages say why."""
    if not reason.strip():
        raise Invalid(_("Give a reason for the suspension."), field="reason", code="reason_required")
    merchant = _lock_merchant(merchant.pk)
    if merchant.status == Merchant.Status.SUSPENDED:
        return merchant
    _check_transition(merchant, Merchant.Status.SUSPENDED)
    merchant.status, merchant.status_reason = Merchant.Status.SUSPENDED, reason.strip()
    merchant.save(update_fields=["status", "status_reason"])
    audit("merchant.suspended", merchant, actor=acting_user, reason=reason)
    return merchant


@transaction.atomic
def merchant_reinstate(*, merchant, acting_user):
    """Bring a suspended merchant back; its published stores are discoverable again."""
    merchant = _lock_merchant(merchant.pk)
    if merchant.status == Merchant.Status.APPROVED:
        return merchant
    # APPLIED -> APPROVED is a legal transition too, but only through the application, which
    # also makes the applicant the owner: reinstating must never approve an applicant.
    if merchant.status != Merchant.Status.SUSPENDED:
        raise Conflict(
            _("Only a suspended merchant can be reinstated; this one is %(status)s.")
            % {"status": merchant.get_status_display()},
            code="illegal_transition",
        )
    merchant.status, merchant.status_reason = Merchant.Status.APPROVED, ""
    merchant.save(update_fields=["status", "status_reason"])
    audit("merchant.reinstated", merchant, actor=acting_user)
    return merchant


@transaction.atomic
def merchant_commission_rate_set(*, merchant, rate, acting_user):
    """Platform finance sets the merchant's own rate (None: fall back to the category's)."""
    merchant = _lock_merchant(merchant.pk)
    previous = merchant.commission_rate
    if previous == rate:
        return merchant
    merchant.commission_rate = rate
    merchant.full_clean(validate_unique=False, validate_constraints=False)
    merchant.save(update_fields=["commission_rate"])
    # Orders snapshot the rate when they are created, so a change never alters past orders.
    audit("merchant.commission_rate_set", merchant, actor=acting_user, previous=previous, rate=rate)
    return merchant


PROFILE_FIELDS = (
    "name",
    "description",
    "contact_name",
    "contact_phone",
    "settlement_account_name",
    "settlement_account_number",
)


@transaction.atomic
def merchant_update_profile(*, merchant, acting_user, **fields):
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise Invalid(_("These fields cannot be changed here: %s") % ", ".join(sorted(unknown)))
    for key, value in fields.items():
        setattr(merchant, key, value)
    merchant.full_clean()
    merchant.save(update_fields=[*fields])
    audit("merchant.profile_updated", merchant, actor=acting_user, fields=sorted(fields))
    # Store search text includes the merchant's name.
    if "name" in fields:
        for store in merchant.stores.select_related("merchant", "category__parent"):
            store.search_text = store.build_search_text()
            store.save(update_fields=["search_text"])
    return merchant


STORE_FIELDS = (
    "name",
    "city",
    "category",
    "address",
    "latitude",
    "longitude",
    "phone",
    "description",
    "tags",
    "avg_price",
    "is_published",
)


@transaction.atomic
def store_save(*, merchant, acting_user, store=None, **fields):
    """Create a store for `merchant`, or update `store` (which must belong to it)."""
    unknown = set(fields) - set(STORE_FIELDS)
    if unknown:
        raise Invalid(_("These fields cannot be changed here: %s") % ", ".join(sorted(unknown)))
    if store is None:
        store = Store(merchant=merchant)
    elif store.merchant_id != merchant.pk:
        raise Invalid(_("This store belongs to another merchant."), code="not_your_store")
    for key, value in fields.items():
        setattr(store, key, value)
    store.full_clean()
    store.search_text = store.build_search_text()
    if store.pk is None:
        store.save()
    else:
        # Only what was edited: figures kept by other services (rating, sales) must not be
        # written back from a page loaded minutes ago.
        store.save(update_fields=[*fields, "search_text", "updated_at"])
    audit("store.saved", store, actor=acting_user, fields=sorted(fields))
    return store


def _lock_store(store_id):
    return Store.objects.select_for_update(of=("self",)).get(pk=store_id)


def _hours_overlap():
    return Invalid(_("Opening hours must not overlap."), field="hours", code="hours_overlap")


def _check_weekly_hours(spans_by_day):
    """Refuse overlapping spans, including an overnight span running into the next day's first one.

    A span with closes <= opens runs past midnight, so it can only be the day's last span.
    """
    for weekday, spans in spans_by_day.items():
        for (opens, closes), (next_opens, _next_closes) in itertools.pairwise(spans):
            if closes <= opens or closes > next_opens:
                raise _hours_overlap()
        if spans and spans[-1][1] <= spans[-1][0]:
            following = spans_by_day.get((weekday + 1) % 7)
            if following and following[0][0] < spans[-1][1]:
                raise _hours_overlap()


@transaction.atomic
def store_hours_set(*, store, hours, acting_user=None):
    """Replace the store's weekly hours: `hours` maps weekday (0 = Monday) to [(opens, closes)]."""
    spans_by_day = {}
    for weekday, intervals in hours.items():
        if not 0 <= int(weekday) <= 6:
            raise Invalid(_("Weekday must be 0 (Monday) to 6 (Sunday)."), field="hours")
        spans_by_day.setdefault(int(weekday), []).extend(intervals)
    spans_by_day = {day: sorted(spans) for day, spans in spans_by_day.items() if spans}
    _check_weekly_hours(spans_by_day)
    # Race: two editors saving at once would each delete, then both insert; the store lock
    # makes the second replace the first's rows instead of adding to them.
    store = _lock_store(store.pk)
    rows = [
        StoreHours(store=store, weekday=day, opens=opens, closes=closes)
        for day, spans in sorted(spans_by_day.items())
        for opens, closes in spans
    ]
    StoreHours.objects.filter(store=store).delete()
    StoreHours.objects.bulk_create(rows)
    audit("store.hours_set", store, actor=acting_user)


@transaction.atomic
def store_closed_dates_set(*, store, dates, acting_user=None):
    store = _lock_store(store.pk)
    StoreClosedDate.objects.filter(store=store).delete()
    StoreClosedDate.objects.bulk_create([StoreClosedDate(store=store, date=d) for d in sorted(set(dates))])
    audit("store.closed_dates_set", store, actor=acting_user, dates=[d.isoformat() for d in sorted(set(dates))])


@transaction.atomic
def store_closed_date_add(*, store, date, note="", acting_user=None):
    """Close the store on one date (a holiday, a private event); adding it again updates the note."""
    store = _lock_store(store.pk)
    closed, _created = StoreClosedDate.objects.update_or_create(store=store, date=date, defaults={"note": note.strip()})
    audit("store.closed_date_added", store, actor=acting_user, date=date.isoformat(), note=closed.note)
    return closed


@transaction.atomic
def store_closed_date_remove(*, store, date, acting_user=None):
    """Open the store again on `date`; removing a date that is not closed is harmless."""
    store = _lock_store(store.pk)
    deleted, _rows = StoreClosedDate.objects.filter(store=store, date=date).delete()
    if deleted:
        audit("store.closed_date_removed", store, actor=acting_user, date=date.isoformat())
    return bool(deleted)


@transaction.atomic
def store_photo_add(*, store, upload, caption="", make_cover=False, acting_user=None):
    """Check, clean (EXIF stripped, orientation applied) and re-encode a photo, with a thumbnail."""
    store = _lock_store(store.pk)
    count = store.photos.count()
    if count >= MAX_STORE_PHOTOS:
        raise Conflict(_("A store can have at most %(n)d photos.") % {"n": MAX_STORE_PHOTOS}, code="too_many_photos")
    processed = process_upload(upload)
    last_position = store.photos.aggregate(last=Max("position"))["last"]
    photo = StorePhoto(
        store=store,
        caption=caption.strip(),
        position=0 if last_position is None else last_position + 1,
        width=processed.width,
        height=processed.height,
    )
    photo.image.save(processed.name, processed.main, save=False)
    photo.thumbnail.save(processed.thumb_name, processed.thumb, save=False)
    photo.save()
    audit("store.photo_added", store, actor=acting_user, photo=photo.pk)
    if make_cover or count == 0:
        store_photo_set_cover(photo=photo, acting_user=acting_user)
    return photo


@transaction.atomic
def store_photo_set_cover(*, photo, acting_user=None):
    """Make `photo` its store's cover; the previous cover becomes an ordinary photo."""
    # Race: two covers chosen at once would both clear the old cover and then both set theirs,
    # and the second would break the one-cover constraint (a 500); the store lock orders them.
    _lock_store(photo.store_id)
    StorePhoto.objects.filter(store_id=photo.store_id, is_cover=True).exclude(pk=photo.pk).update(is_cover=False)
    if not StorePhoto.objects.filter(pk=photo.pk).update(is_cover=True):
        raise NotFound(_("This photo was deleted."), code="photo_gone")
    photo.is_cover = True
    audit("store.photo_cover_set", photo.store, actor=acting_user, photo=photo.pk)
    return photo


@transaction.atomic
def store_photo_delete(*, photo, acting_user=None):
    """Delete a photo and its files; when it was the cover, the next photo becomes the cover."""
    store = _lock_store(photo.store_id)
    photo = StorePhoto.objects.filter(pk=photo.pk).first()
    if photo is None:
        return  # already deleted by a concurrent request
    photo_id, was_cover = photo.pk, photo.is_cover
    storage, file_names = photo.image.storage, [name for name in (photo.image.name, photo.thumbnail.name) if name]
    photo.delete()
    # Files go only once the row is gone for good: a rollback must not leave a photo without its file.
    transaction.on_commit(lambda: [storage.delete(name) for name in file_names])
    audit("store.photo_deleted", store, actor=acting_user, photo=photo_id)
    if was_cover:
        successor = StorePhoto.objects.filter(store_id=store.pk).order_by("position", "pk").first()
        if successor:
            store_photo_set_cover(photo=successor, acting_user=acting_user)
