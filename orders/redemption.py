"""In-store redemption (DESIGN §1 step 5, §9 "Redemption"): look a voucher code up, confirm it,
undo it within the hour, and the history a merchant sees.

The flow lives in orders because it touches vouchers (coupons, below) as well as booking
check-in and order completion (orders); coupons.services holds the voucher-level writes.

Refusals, each with a stable code (the API maps the error class to its status):

- NotFound 404 `unknown_code`: no such code, or a code of another merchant. Both answers are
  the same, byte for byte, so staff of one merchant learn nothing about another's codes.
- Conflict 409 `already_used` (with when and where), Gone 410 `refunded` / `expired`.
- Invalid 400: `malformed_code`, `unknown_store`, `not_yet_valid`, `booking_not_today`,
  `not_usable_here`, `weekdays_only`, `max_per_visit`, `request_key_reused`.
- Busy 429 `too_many_wrong_codes`: wrong codes are counted per member and per store in the
  shared cache (o2o.ratelimit), so the limit holds across every web process.

Concurrency (DESIGN §6, "a voucher is redeemed at most once"):

- voucher_redeem locks the order, then the voucher (the order in which payments' refund flow
  takes them, so a refund and a redemption of one order never wait on each other in a cycle)
  and checks the voucher again after the lock.
- The partial unique constraint `one_live_redemption_per_voucher` refuses a second standing
  redemption whatever happens above it; its IntegrityError is answered 409.
- A request key is unique per user (`redemption_request_once`): a double tap or a retry after
  a lost answer returns the first redemption, also when the two requests race.

Undo (decided here, DESIGN §9): within UNDO_WINDOW of redeeming, with a reason, by an owner or
manager of the merchant (at the stores they work for) or by the clerk who redeemed it; refused
once settled. A booking's check-in is not undone: the order has moved on to checked in, which
opens reviews and settlement, and DESIGN §4 has no way back from it.
"""

import dataclasses
import datetime as dt
import ipaddress
import logging
import secrets
import unicodedata

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from coupons import services as voucher_services
from coupons.models import Redemption, Voucher
from merchants.access import MANAGERS, member_stores
from merchants.models import Store
from notifications import events as notification_events
from o2o import ratelimit
from o2o.audit import audit
from o2o.codes import CODE_LENGTH, is_well_formed
from o2o.errors import Busy, Conflict, Gone, Invalid, NotAllowed, NotFound

from . import services as order_services
from .models import Order

logger = logging.getLogger(__name__)

UNDO_WINDOW = dt.timedelta(hours=1)
MAX_CODE_INPUT = 64  # longer input is not a code that was typed or scanned
MAX_REQUEST_KEY = 64  # Redemption.request_key
MAX_REASON = 200  # Redemption.undo_reason
MAX_ID = 2**63 - 1  # primary keys are bigints; a larger number is no id (and SQLite would overflow)

# Defaults of the wrong-code limits; settings of the same name override them.
REDEMPTION_WRONG_CODES_PER_MEMBER = 10
REDEMPTION_WRONG_CODES_PER_STORE = 30
REDEMPTION_WRONG_CODES_WINDOW_SECONDS = 600


def _not_found():
    # One message for "no such code" and "another merchant's code": see the module docstring.
    return NotFound(_("No voucher with this code for your stores."), field="code", code="unknown_code")


# --- input ----------------------------------------------------------------------------------


def clean_code(raw):
    """The 12 ASCII digits of a typed or scanned code, or Invalid.

    Spaces and dashes go; full-width digits (a Chinese keyboard's) count as digits. Other
    Unicode "digits" such as superscripts are dropped rather than passed to the check-digit
    code, which only knows 0-9.
    """
    text = "" if raw is None else str(raw)
    if len(text) > MAX_CODE_INPUT:
        raise Invalid(_("This is not a voucher code."), field="code", code="malformed_code")
    digits = "".join(str(unicodedata.decimal(ch)) for ch in text if unicodedata.decimal(ch, None) is not None)
    if not digits:
        raise Invalid(_("Enter the 12-digit code."), field="code", code="code_required")
    if not is_well_formed(digits):
        raise Invalid(
            _("This is not a valid voucher code: check the %(n)d digits.") % {"n": CODE_LENGTH},
            field="code",
            code="malformed_code",
        )
    return digits


def clean_request_key(raw):
    key = "" if raw is None else str(raw).strip()
    if len(key) > MAX_REQUEST_KEY:
        raise Invalid(
            _("The request key is at most %(n)d characters.") % {"n": MAX_REQUEST_KEY},
            field="request_key",
            code="bad_request_key",
        )
    return key


def new_request_key():
    """A key for one lookup's confirm form: a double tap or a retry sends it again."""
    return secrets.token_urlsafe(24)


def clean_device(raw):
    """The user agent as recorded: printable characters only (PostgreSQL refuses NUL), cut to fit."""
    return "".join(ch for ch in str(raw or "") if ch.isprintable())[:200]


def clean_ip(raw):
    """An address for Redemption.ip, or None (`client_ip` says "unknown" when it has none)."""
    try:
        return str(ipaddress.ip_address(str(raw or "").strip()))
    except ValueError:
        return None


# --- stores ---------------------------------------------------------------------------------


def verify_stores(member):
    """Stores where `member` may verify codes: all of the merchant's, or the ones assigned."""
    return member_stores(member).filter(merchant_id=member.merchant_id).select_related("city").order_by("name", "pk")


def as_id(value):
    """A primary key from user input, or None."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk <= MAX_ID else None


def store_for_member(member, store_id):
    """One of the member's stores by id, or Invalid: store ids are public, so naming the
    problem leaks nothing."""
    pk = as_id(store_id)
    store = verify_stores(member).filter(pk=pk).first() if pk else None
    if store is None:
        raise Invalid(_("Choose one of your stores."), field="store", code="unknown_store")
    return store


def _check_store(member, store):
    if store is None or not verify_stores(member).filter(pk=store.pk).exists():
        raise Invalid(_("Choose one of your stores."), field="store", code="unknown_store")


# --- wrong-code limits -------------------------------------------------------------------------


def _limit_scopes(member, store):
    per_member = getattr(settings, "REDEMPTION_WRONG_CODES_PER_MEMBER", REDEMPTION_WRONG_CODES_PER_MEMBER)
    per_store = getattr(settings, "REDEMPTION_WRONG_CODES_PER_STORE", REDEMPTION_WRONG_CODES_PER_STORE)
    window = getattr(settings, "REDEMPTION_WRONG_CODES_WINDOW_SECONDS", REDEMPTION_WRONG_CODES_WINDOW_SECONDS)
    return [("redeem-member", member.pk, per_member), ("redeem-store", store.pk, per_store)], window


def _check_not_throttled(member, store):
    """Refuse every lookup, right or wrong, once the member or the store has typed too many
    wrong codes: answering real codes meanwhile would let guessing go on."""
    scopes, window = _limit_scopes(member, store)
    for scope, ident, limit in scopes:
        try:
            state = ratelimit.peek(scope, ident, limit=limit, window_seconds=window)
        except Exception:  # the cache is down: serve the counter rather than lock every store out
            logger.warning("cache unavailable for the wrong-code limit", exc_info=True)
            return
        if state.count >= limit:
            minutes = max(1, -(-state.retry_after // 60))
            raise Busy(
                ngettext(
                    "Too many wrong codes. Wait %(minutes)d minute and try again.",
                    "Too many wrong codes. Wait %(minutes)d minutes and try again.",
                    minutes,
                )
                % {"minutes": minutes},
                retry_after=state.retry_after,
                code="too_many_wrong_codes",
            )


def _count_wrong_code(member, store):
    scopes, window = _limit_scopes(member, store)
    for scope, ident, limit in scopes:
        try:
            ratelimit.hit(scope, ident, limit=limit, window_seconds=window)
        except Exception:
            logger.warning("cache unavailable for the wrong-code limit", exc_info=True)
            return


# --- lookup -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VoucherLookup:
    """What the Verify screen shows before the confirm: what the code is for, whose it is,
    how much of the order is left, until when."""

    voucher: Voucher
    store: object
    customer: str  # masked name
    units_left: int  # usable vouchers of the order, this one included
    units_total: int
    visit_left: int | None  # more vouchers of this deal usable in this visit; None: no limit
    booking: object | None

    @property
    def kind(self):
        return self.voucher.kind

    @property
    def title(self):
        return self.voucher.title

    @property
    def code_display(self):
        return self.voucher.code_display

    @property
    def order(self):
        return self.voucher.order

    @property
    def valid_until(self):
        return self.voucher.valid_until.astimezone(self.store.tzinfo)

    @property
    def contents(self):
        """The deal's package as a list of {name, quantity, price}; malformed entries are skipped."""
        deal = self.voucher.deal
        items = deal.contents if deal is not None and isinstance(deal.contents, list) else []
        return [item for item in items if isinstance(item, dict) and item.get("name")]

    @property
    def usage_notes(self):
        deal = self.voucher.deal
        return deal.usage_notes if deal is not None else ""

    @property
    def local_start(self):
        return self.booking.start.astimezone(self.store.tzinfo) if self.booking else None


def _local(moment, store):
    return f"{moment.astimezone(store.tzinfo):%Y-%m-%d %H:%M}"


def _find_voucher(*, code, member, store, ids_only=False):
    """The member's merchant's voucher with `code`, or the 404 that a wrong code gets (and
    counts towards the limits). `ids_only`: a bare Voucher with pk and order_id, for a caller
    that reads the row again under a lock."""
    _check_not_throttled(member, store)
    if ids_only:
        found = Voucher.objects.filter(code=code, merchant_id=member.merchant_id).values_list("pk", "order_id").first()
        voucher = Voucher(pk=found[0], order_id=found[1]) if found else None
    else:
        voucher = voucher_services.voucher_for_merchant(code=code, merchant_id=member.merchant_id)
    if voucher is None:
        _count_wrong_code(member, store)
        raise _not_found()
    return voucher


def _already_used(voucher, store):
    redemption = voucher_services.live_redemption(voucher)
    if redemption is None:  # marked used outside this flow (an old import, platform finance)
        when = voucher.redeemed_at
        return Conflict(
            _("This voucher was already used on %(when)s.") % {"when": _local(when, store) if when else "?"},
            code="already_used",
            extra={"redeemed_at": when.isoformat() if when else None, "redeemed_store": None},
        )
    return Conflict(
        _("This voucher was already used on %(when)s at %(store)s.")
        % {"when": _local(redemption.redeemed_at, redemption.store), "store": redemption.store.name},
        code="already_used",
        extra={
            "redeemed_at": redemption.redeemed_at.isoformat(),
            "redeemed_store": {"id": redemption.store_id, "name": redemption.store.name},
        },
    )


class _AlreadyUsed(Exception):
    """Raised under the locks; the caller builds the "already used" answer once they are
    released, so the many losers of a race hold the order's lock for as short as possible."""

    def __init__(self, voucher):
        super().__init__(voucher.pk)
        self.voucher = voucher


def _check_state(voucher, store, now):
    if voucher.status == Voucher.Status.REDEEMED:
        raise _AlreadyUsed(voucher)
    if voucher.status == Voucher.Status.REFUNDED:
        when = voucher.refunded_at or voucher.created_at
        raise Gone(_("This voucher was refunded on %(when)s.") % {"when": _local(when, store)}, code="refunded")
    # An expiry job that has not run yet does not make a voucher usable past its date.
    if voucher.status == Voucher.Status.EXPIRED or voucher.valid_until < now:
        raise Gone(
            _("This voucher expired on %(when)s.") % {"when": _local(voucher.valid_until, store)}, code="expired"
        )


def _check_booking_today(voucher, store, now):
    order = voucher.order
    booking = order.booking
    if order.status not in (Order.Status.CONFIRMED, Order.Status.CHECKED_IN, Order.Status.COMPLETED):
        raise Gone(_("This booking is %(status)s.") % {"status": order.get_status_display()}, code="booking_not_active")
    tz = booking.store.tzinfo
    day = booking.start.astimezone(tz).date()
    if day != now.astimezone(tz).date():
        raise Invalid(
            _("This booking is for %(date)s, not today.") % {"date": _local(booking.start, booking.store)},
            code="booking_not_today",
        )
    return booking


def _check_usable_here(voucher, store):
    if voucher.kind == Voucher.Kind.DEAL and voucher.deal_id:
        store_ids = voucher.deal.redeemable_store_ids()
    else:  # a booking is at its store; an in-store coupon at the store it was issued for
        store_ids = {voucher.store_id}
    if store.pk in store_ids:
        return
    names = ", ".join(
        Store.objects.filter(pk__in=store_ids, merchant_id=voucher.merchant_id)
        .order_by("name")
        .values_list("name", flat=True)
    )
    raise Invalid(
        _("This voucher cannot be used at %(store)s. It can be used at: %(stores)s.")
        % {"store": store.name, "stores": names or "—"},
        code="not_usable_here",
    )


def _used_this_visit(voucher, store, now):
    """Vouchers of the same deal the same consumer has used at this store today (store time):
    what "per visit" means here, the clerk not being asked to tell visits apart."""
    start = dt.datetime.combine(now.astimezone(store.tzinfo).date(), dt.time.min, tzinfo=store.tzinfo)
    return Redemption.objects.filter(
        undone_at__isnull=True,
        store=store,
        voucher__deal_id=voucher.deal_id,
        voucher__user_id=voucher.user_id,
        redeemed_at__gte=start,
        redeemed_at__lt=start + dt.timedelta(days=1),
    ).count()


def _check_usage_rules(voucher, store, now):
    """The deal's usage rules; returns how many more of it this visit may use (None: no limit).

    Race: two clerks confirming two vouchers of the same deal and consumer from *different*
    orders at the same moment could both pass max_per_visit (vouchers of one order are
    serialised by the order lock). It is a merchant's house rule, not a money invariant,
    so it is not worth a lock per consumer.
    """
    deal = voucher.deal
    if voucher.kind != Voucher.Kind.DEAL or deal is None:
        return None
    if deal.weekdays_only and now.astimezone(store.tzinfo).weekday() >= 5:
        raise Invalid(_("This deal can be used on weekdays only (Monday to Friday)."), code="weekdays_only")
    if not deal.max_per_visit:
        return None
    used = _used_this_visit(voucher, store, now)
    if used >= deal.max_per_visit:
        raise Invalid(
            ngettext(
                "At most %(n)d voucher of this deal per visit, and it was used today.",
                "At most %(n)d vouchers of this deal per visit, and they were used today.",
                deal.max_per_visit,
            )
            % {"n": deal.max_per_visit},
            code="max_per_visit",
        )
    return deal.max_per_visit - used


def _units(voucher, now):
    if voucher.order_id is None:
        return 1, 1
    counts = voucher.order.vouchers.aggregate(
        total=Count("pk"), left=Count("pk", filter=Q(status=Voucher.Status.VALID, valid_until__gte=now))
    )
    return counts["left"], counts["total"]


def _check_voucher(voucher, *, store, now):
    """Every refusal of DESIGN §9 in the order a clerk needs to hear them. Returns the
    booking (booking vouchers) and how many more of the deal this visit may use."""
    _check_state(voucher, store, now)
    booking = None
    if voucher.kind == Voucher.Kind.BOOKING:
        booking = _check_booking_today(voucher, store, now)
    elif now < voucher.valid_from:
        raise Invalid(
            _("This voucher can be used from %(when)s.") % {"when": _local(voucher.valid_from, store)},
            code="not_yet_valid",
        )
    _check_usable_here(voucher, store)
    return booking, _check_usage_rules(voucher, store, now)


def voucher_lookup(*, code, member, store, now=None):
    """Step one of Verify: what `code` is for at `store`, or the domain error that refuses it.

    Reads only; a wrong code counts towards the member's and the store's limits.
    """
    now = now or timezone.now()
    code = clean_code(code)
    _check_store(member, store)
    voucher = _find_voucher(code=code, member=member, store=store)
    try:
        booking, visit_left = _check_voucher(voucher, store=store, now=now)
    except _AlreadyUsed:
        raise _already_used(voucher, store) from None
    units_left, units_total = _units(voucher, now)
    return VoucherLookup(
        voucher=voucher,
        store=store,
        customer=voucher.user.masked_name,
        units_left=units_left,
        units_total=units_total,
        visit_left=visit_left,
        booking=booking,
    )


# --- confirm ----------------------------------------------------------------------------------


def _replayed(member, request_key, *, code, store):
    """The redemption this user already made with `request_key`, marked `replayed`; None when
    the key is new. A key reused for another code or store is refused: it is a client bug."""
    first = (
        Redemption.objects.select_related("voucher__order", "store", "redeemed_by")
        .filter(redeemed_by_id=member.user_id, request_key=request_key)
        .first()
    )
    if first is None:
        return None
    if first.voucher.code != code or first.store_id != store.pk or first.merchant_id != member.merchant_id:
        raise Invalid(
            _("This request was already used for another code. Look the code up again."),
            field="request_key",
            code="request_key_reused",
        )
    first.replayed = True
    return first


def _lock_voucher(voucher_id):
    return Voucher.objects.select_for_update(of=("self",)).select_related("deal", "order").get(pk=voucher_id)


def voucher_redeem(*, code, member, store, request_key="", ip=None, device="", now=None):
    """Step two of Verify: use the voucher at `store`. Returns the Redemption; its `replayed`
    attribute is True when `request_key` had already been used and this is the first result.

    Side effects in the same transaction: a booking is checked in; a deal order whose last
    voucher this was is completed; an audit record names who, where, IP and device; the
    consumer's "voucher used" notification is queued (sent after the commit).
    """
    now = now or timezone.now()
    code = clean_code(code)
    request_key = clean_request_key(request_key)
    _check_store(member, store)
    if request_key:
        first = _replayed(member, request_key, code=code, store=store)
        if first is not None:
            return first
    try:
        with transaction.atomic():
            redemption = _redeem_locked(
                code=code, member=member, store=store, request_key=request_key, ip=ip, device=device, now=now
            )
    except _AlreadyUsed as used:
        # Built after the rollback released the locks (see _AlreadyUsed).
        raise _already_used(used.voucher, store) from None
    return redemption


def _redeem_locked(*, code, member, store, request_key, ip, device, now):
    found = _find_voucher(code=code, member=member, store=store, ids_only=True)
    # Order first, then the voucher: the order every flow that changes both uses (payments'
    # refunds too), so two flows never wait on each other in a cycle.
    order = order_services.lock_order(found.order_id) if found.order_id else None
    # Race: another clerk may have used it (or the consumer refunded it) since it was read
    # without a lock; the locked row is the truth from here on.
    voucher = _lock_voucher(found.pk)
    if voucher.status == Voucher.Status.REDEEMED and request_key:
        # Race: a request with the same key may have committed while this one waited for
        # the locks; it won, and this is its replay.
        first = _replayed(member, request_key, code=code, store=store)
        if first is not None:
            return first
    _check_voucher(voucher, store=store, now=now)
    try:
        redemption = voucher_services.voucher_mark_redeemed(
            voucher=voucher,
            store=store,
            redeemed_by=member.user,
            request_key=request_key,
            ip=clean_ip(ip),
            device=clean_device(device),
            now=now,
        )
    except IntegrityError:
        # Last line of defence: a standing redemption or this user's key exists although the
        # locks said otherwise. The first result for a replayed key (or a refusal when the key
        # was used for another code), else "already used".
        first = _replayed(member, request_key, code=code, store=store) if request_key else None
        if first is not None:
            return first
        raise _AlreadyUsed(voucher) from None
    if voucher.kind == Voucher.Kind.BOOKING:
        # A booking checked in on the bookings page (or completed since) needs nothing more.
        if order.status == Order.Status.CONFIRMED:
            order_services.booking_check_in(order=order, actor=member.user, now=now)
    elif order is not None:
        order_services.order_complete_if_done(order=order, now=now)
        # A deal voucher used for its appointment checks that booking in too.
        appointment = order_services.appointment_for_visit(voucher=voucher, now=now)
        if appointment is not None:
            order_services.booking_check_in(order=appointment.order, actor=member.user, now=now)
    audit(
        "voucher.redeemed",
        redemption,
        actor=member.user,
        ip=redemption.ip,
        voucher=voucher.pk,
        order=voucher.order_id,
        kind=voucher.kind,
        store=store.pk,
        store_name=store.name,
        role=member.role,
        device=redemption.device,
    )
    # Written in this transaction, sent after the commit (a refused confirm tells nobody).
    # The consumer's receipt doubles as a fraud alarm: "if this was not you, call us".
    notification_events.voucher_redeemed(
        consumer=voucher.user,
        redemption_id=redemption.pk,
        title=voucher.title,
        code_display=voucher.code_display,
        store_name=store.name,
        redeemed_at=now.astimezone(store.tzinfo),
        link=voucher.order.get_absolute_url() if voucher.order_id else "",
    )
    if voucher.order_id:
        # One invitation per order (the notification's dedupe key), however many units are used.
        notification_events.review_invitation(
            consumer=voucher.user,
            order_id=voucher.order_id,
            store_name=store.name,
            link=voucher.order.get_absolute_url(),
        )
    redemption.replayed = False
    return redemption


# --- undo ---------------------------------------------------------------------------------------


def _in_scope(redemption, member):
    return (
        redemption.merchant_id == member.merchant_id and verify_stores(member).filter(pk=redemption.store_id).exists()
    )


def _may_undo_as(redemption, member):
    return member.role in MANAGERS or redemption.redeemed_by_id == member.user_id


def may_undo(redemption, member, *, now=None):
    """Whether the Undo button is worth showing (the service decides for real)."""
    now = now or timezone.now()
    return (
        redemption.undone_at is None
        and redemption.settled_at is None
        and now - redemption.redeemed_at <= UNDO_WINDOW
        and redemption.voucher.kind != Voucher.Kind.BOOKING
        and _may_undo_as(redemption, member)
    )


def redemption_undo(*, redemption, member, reason, ip=None, device="", now=None):
    """Undo a redemption within UNDO_WINDOW: the voucher is usable again and a completed deal
    order goes back to paid. Undoing an undone redemption changes nothing."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not _in_scope(redemption, member):
        raise NotFound(_("No such redemption."), code="unknown_redemption")
    if not _may_undo_as(redemption, member):
        raise NotAllowed(
            _("Only the clerk who confirmed it, a manager or the owner may undo this."), code="not_your_redemption"
        )
    if not reason:
        raise Invalid(_("Say why the redemption is undone."), field="reason", code="reason_required")
    if len(reason) > MAX_REASON:
        raise Invalid(
            _("Keep the reason under %(n)d characters.") % {"n": MAX_REASON}, field="reason", code="reason_too_long"
        )
    with transaction.atomic():
        order_id = redemption.voucher.order_id
        order = order_services.lock_order(order_id) if order_id else None
        voucher = _lock_voucher(redemption.voucher_id)
        # Race: settlement or a second undo may have got here first; the locked rows decide.
        redemption = (
            Redemption.objects.select_for_update(of=("self",))
            .select_related("store", "redeemed_by")
            .get(pk=redemption.pk)
        )
        if redemption.undone_at is not None:
            return redemption
        if redemption.settled_at is not None:
            raise Conflict(_("This redemption has been settled and can no longer be undone."), code="settled")
        if now - redemption.redeemed_at > UNDO_WINDOW:
            raise Conflict(
                _("A redemption can be undone within an hour; this one was confirmed at %(when)s.")
                % {"when": _local(redemption.redeemed_at, redemption.store)},
                code="undo_window_passed",
            )
        if voucher.kind == Voucher.Kind.BOOKING:
            raise Conflict(
                _("A booking check-in cannot be undone. Contact platform support if the guests did not come."),
                code="booking_undo_refused",
            )
        voucher_services.voucher_mark_unredeemed(
            voucher=voucher, redemption=redemption, undone_by=member.user, reason=reason, now=now
        )
        if order is not None:
            order_services.order_reopen_after_undo(
                order=order, actor=member.user, note=f"redemption undone: {reason}", now=now
            )
        audit(
            "voucher.redemption_undone",
            redemption,
            actor=member.user,
            ip=clean_ip(ip),
            voucher=voucher.pk,
            order=voucher.order_id,
            store=redemption.store_id,
            reason=reason,
            role=member.role,
            device=clean_device(device),
        )
    return redemption


# --- history ----------------------------------------------------------------------------------


class HistoryStatus:
    LIVE = "live"
    UNDONE = "undone"


def redemptions_for_member(member, *, store=None, date_from=None, date_to=None, status=None, redeemed_by=None):
    """The merchant's redemptions at the stores `member` works for, newest first.

    `date_from`/`date_to` are days in the current time zone, both included; `status` is
    "live" or "undone"; `redeemed_by` a user id.
    """
    tz = timezone.get_current_timezone()
    redemptions = Redemption.objects.filter(
        merchant_id=member.merchant_id, store__in=verify_stores(member).values("pk")
    ).select_related("voucher__order", "store__city", "redeemed_by", "undone_by")
    if store is not None:
        redemptions = redemptions.filter(store=store)
    if date_from is not None:
        redemptions = redemptions.filter(redeemed_at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=tz))
    if date_to is not None:
        end = dt.datetime.combine(date_to, dt.time.min, tzinfo=tz) + dt.timedelta(days=1)
        redemptions = redemptions.filter(redeemed_at__lt=end)
    if status == HistoryStatus.LIVE:
        redemptions = redemptions.filter(undone_at__isnull=True)
    elif status == HistoryStatus.UNDONE:
        redemptions = redemptions.filter(undone_at__isnull=False)
    if redeemed_by is not None:
        redemptions = redemptions.filter(redeemed_by_id=redeemed_by)
    return redemptions.order_by("-redeemed_at", "-pk")


def redemption_for_member(member, redemption_id):
    """One redemption in the member's scope, or NotFound (the same answer as no such id)."""
    pk = as_id(redemption_id)
    redemption = redemptions_for_member(member).filter(pk=pk).first() if pk else None
    if redemption is None:
        raise NotFound(_("No such redemption."), code="unknown_redemption")
    return redemption
