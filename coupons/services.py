"""Writes on vouchers: issuing them for paid orders, refunds and expiry marks.

Callers above this app (orders, payments) run the flows and call down here; this module
never imports them.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from o2o.codes import new_code
from o2o.errors import Conflict
from o2o.money import split_evenly

from .models import Voucher

CODE_ATTEMPTS = 5


def _create_voucher(**fields):
    """Insert a voucher with a fresh code; a collision (one in 10^11) draws again."""
    for attempt in range(CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                return Voucher.objects.create(code=new_code(), **fields)
        except IntegrityError:
            if attempt == CODE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def vouchers_issue_for_order(*, order, now=None):
    """One voucher per paid deal unit, one for a booking. Idempotent: a second call returns
    the vouchers already issued."""
    now = now or timezone.now()
    existing = list(order.vouchers.all())
    if existing:
        return existing
    items = list(order.items.select_related("deal__store__city"))
    vouchers = []
    if order.kind == "booking":
        booking = order.booking
        local_end = booking.end.astimezone(order.store.tzinfo)
        vouchers.append(
            _create_voucher(
                kind=Voucher.Kind.BOOKING,
                user_id=order.user_id,
                merchant_id=order.merchant_id,
                store_id=order.store_id,
                order=order,
                order_item=items[0],
                title=items[0].title,
                amount=order.total,
                list_price=order.subtotal,
                discount_merchant=order.discount_merchant,
                discount_platform=order.discount_platform,
                valid_from=booking.start - dt.timedelta(hours=12),
                valid_until=dt.datetime.combine(local_end.date(), dt.time(23, 59, 59), tzinfo=local_end.tzinfo),
                created_at=now,
            )
        )
        return vouchers

    units = sum(item.quantity for item in items)
    # Divide the order's discounts over its units to the cent, in proportion to units.
    merchant_shares = iter(split_evenly(order.discount_merchant, units))
    platform_shares = iter(split_evenly(order.discount_platform, units))
    for item in items:
        for list_price in split_evenly(item.subtotal, item.quantity):
            dm, dp = next(merchant_shares), next(platform_shares)
            vouchers.append(
                _create_voucher(
                    kind=Voucher.Kind.DEAL,
                    user_id=order.user_id,
                    merchant_id=order.merchant_id,
                    store_id=order.store_id,
                    order=order,
                    order_item=item,
                    deal=item.deal,
                    title=item.title,
                    amount=list_price - dm - dp,
                    list_price=list_price,
                    discount_merchant=dm,
                    discount_platform=dp,
                    valid_from=now,
                    valid_until=item.deal.voucher_valid_until(now),
                    created_at=now,
                )
            )
    return vouchers


def lock_vouchers(voucher_ids):
    """Lock vouchers in primary-key order, so two flows never wait on each other in a cycle."""
    return list(Voucher.objects.select_for_update(of=("self",)).filter(pk__in=voucher_ids).order_by("pk"))


def voucher_mark_refunded(*, voucher, refund, now=None):
    """Mark a locked voucher refunded (from valid, or expired for the automatic refund)."""
    now = now or timezone.now()
    if voucher.status not in (Voucher.Status.VALID, Voucher.Status.EXPIRED):
        raise Conflict(
            _("Voucher %(code)s is %(status)s and cannot be refunded.")
            % {"code": voucher.code_display, "status": voucher.get_status_display()},
            code="voucher_not_refundable",
        )
    voucher.status, voucher.refunded_at, voucher.refund = Voucher.Status.REFUNDED, now, refund
    voucher.save(update_fields=["status", "refunded_at", "refund"])


def voucher_mark_expired(*, voucher, now=None):
    now = now or timezone.now()
    if voucher.status != Voucher.Status.VALID or voucher.valid_until > now:
        return False
    voucher.status, voucher.expired_at = Voucher.Status.EXPIRED, now
    voucher.save(update_fields=["status", "expired_at"])
    return True


# --- redemption (voucher level; the flow runs in orders.redemption) ---------------------------


def voucher_for_merchant(*, code, merchant_id):
    """The voucher with `code` issued for `merchant_id`, or None. A code of another merchant
    is None too: callers answer exactly as for a code that does not exist."""
    return (
        Voucher.objects.select_related("user", "store__city", "deal__store__city", "order")
        .filter(code=code, merchant_id=merchant_id)
        .first()
    )


def live_redemption(voucher):
    """The standing (not undone) redemption of a voucher, or None."""
    return voucher.redemptions.filter(undone_at__isnull=True).select_related("store", "redeemed_by").first()


def _check_voucher_move(voucher, target):
    if target not in Voucher.TRANSITIONS.get(Voucher.Status(voucher.status), set()):
        raise Conflict(
            _("Voucher %(code)s is %(status)s and cannot become %(target)s.")
            % {
                "code": voucher.code_display,
                "status": voucher.get_status_display(),
                "target": Voucher.Status(target).label,
            },
            code="illegal_voucher_transition",
        )


def voucher_mark_redeemed(*, voucher, store, redeemed_by, request_key="", ip=None, device="", now=None):
    """Mark a locked, checked voucher used at `store` and record the redemption.

    The Redemption row is inserted first, in a savepoint: its partial unique constraints
    (one live redemption per voucher; one per user and request key) are the last line of
    defence against a race the caller's locks missed. An IntegrityError leaves the caller's
    transaction usable, so it can tell a replayed request key from a voucher used meanwhile.
    """
    now = now or timezone.now()
    _check_voucher_move(voucher, Voucher.Status.REDEEMED)
    with transaction.atomic():
        redemption = voucher.redemptions.create(
            merchant_id=voucher.merchant_id,
            store=store,
            redeemed_by=redeemed_by,
            redeemed_at=now,
            request_key=request_key or "",
            ip=ip,
            device=(device or "")[:200],
        )
    voucher.status, voucher.redeemed_at = Voucher.Status.REDEEMED, now
    voucher.save(update_fields=["status", "redeemed_at"])
    return redemption


def voucher_mark_unredeemed(*, voucher, redemption, undone_by, reason, now=None):
    """Undo a redemption: the voucher (locked) is usable again and the redemption row stays,
    marked undone, for the history. The caller checks who may undo and the time window."""
    now = now or timezone.now()
    _check_voucher_move(voucher, Voucher.Status.VALID)
    redemption.undone_at, redemption.undone_by, redemption.undo_reason = now, undone_by, reason[:200]
    redemption.save(update_fields=["undone_at", "undone_by", "undo_reason"])
    voucher.status, voucher.redeemed_at = Voucher.Status.VALID, None
    voucher.save(update_fields=["status", "redeemed_at"])
    return redemption
