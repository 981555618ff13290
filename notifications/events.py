"""One function per event that people wait on (DESIGN §1 step 8), for the domain apps to call.

They take plain values — users, ids, the words to show and links — so this app imports no
domain model. Each call is idempotent (the dedupe key is the event, the object and the
recipient) and belongs inside the caller's transaction: nothing is sent unless it commits.

The words live in templates/notifications/messages/<kind>.<language>.txt (first line: title).
Times are shown as the wall clock of the datetime passed in: pass them in the store's zone.
"""

from .models import Category
from .services import notify

# kind -> category (people choose e-mail and SMS per category; the inbox always receives).
KINDS = {
    "order_paid": Category.TRANSACTIONAL,
    "order_paid_merchant": Category.TRANSACTIONAL,
    "booking_confirmed": Category.TRANSACTIONAL,
    "booking_confirmed_merchant": Category.TRANSACTIONAL,
    "booking_reminder": Category.REMINDERS,
    "booking_cancelled_by_consumer": Category.TRANSACTIONAL,
    "booking_cancelled_by_merchant": Category.TRANSACTIONAL,
    "booking_no_show": Category.TRANSACTIONAL,
    "voucher_redeemed": Category.TRANSACTIONAL,
    "review_invitation": Category.REMINDERS,
    "refund_done": Category.TRANSACTIONAL,
    "coupon_expiring": Category.REMINDERS,
    "voucher_expiring": Category.REMINDERS,
    "voucher_auto_refunded": Category.TRANSACTIONAL,
    "merchant_application_approved": Category.TRANSACTIONAL,
    "merchant_application_rejected": Category.TRANSACTIONAL,
    "new_review": Category.TRANSACTIONAL,
    "new_review_report": Category.TRANSACTIONAL,
    "review_reply": Category.TRANSACTIONAL,
    "statement_ready": Category.TRANSACTIONAL,
}


def _send(kind, users, *, subject, context, link=""):
    """notify() each distinct user once; returns the notifications."""
    seen, sent = set(), []
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        sent.append(notify(user=user, kind=kind, context=context, link=link, subject=subject, category=KINDS[kind]))
    return sent


def _wall_clock(moment):
    """The time as read in its own zone (templates would otherwise convert it to the site's)."""
    return moment.replace(tzinfo=None) if moment is not None and moment.tzinfo is not None else moment


# --- orders and bookings ------------------------------------------------------------------------


def order_paid(
    *,
    consumer,
    merchant_staff,
    order_id,
    order_number,
    store_name,
    items,
    quantity,
    amount,
    link,
    merchant_link="",
    customer_name="",
):
    """A deal order was paid: the consumer's receipt (vouchers are ready) and the merchant's sale."""
    subject = ("orders.order", order_id)
    context = {
        "order_number": order_number,
        "store_name": store_name,
        "items": items,
        "quantity": quantity,
        "amount": amount,
        "customer_name": customer_name,
    }
    return _send("order_paid", [consumer], subject=subject, context=context, link=link) + _send(
        "order_paid_merchant", merchant_staff, subject=subject, context=context, link=merchant_link
    )


def booking_confirmed(
    *,
    consumer,
    merchant_staff,
    order_id,
    order_number,
    store_name,
    service_name,
    start,
    party_size,
    amount,
    link,
    merchant_link="",
    customer_name="",
):
    """A booking was paid (or needed no payment) and holds its place: both sides are told."""
    subject = ("orders.order", order_id)
    context = {
        "order_number": order_number,
        "store_name": store_name,
        "service_name": service_name,
        "start": _wall_clock(start),
        "party_size": party_size,
        "amount": amount,
        "customer_name": customer_name,
    }
    return _send("booking_confirmed", [consumer], subject=subject, context=context, link=link) + _send(
        "booking_confirmed_merchant", merchant_staff, subject=subject, context=context, link=merchant_link
    )


def booking_reminder(*, consumer, order_id, store_name, service_name, start, party_size, link, address=""):
    """Two hours before a confirmed booking starts."""
    context = {
        "store_name": store_name,
        "service_name": service_name,
        "start": _wall_clock(start),
        "party_size": party_size,
        "address": address,
    }
    return _send("booking_reminder", [consumer], subject=("orders.order", order_id), context=context, link=link)


def booking_cancelled(
    *,
    by,
    recipients,
    order_id,
    order_number,
    store_name,
    service_name,
    start,
    party_size,
    link,
    reason="",
    refund_amount=None,
    fee_kept=None,
    customer_name="",
):
    """A confirmed booking was cancelled; `by` ("consumer" or "merchant") tells the other side."""
    if by not in ("consumer", "merchant"):
        raise ValueError(f"booking_cancelled by {by!r}: expected 'consumer' or 'merchant'")
    context = {
        "order_number": order_number,
        "store_name": store_name,
        "service_name": service_name,
        "start": _wall_clock(start),
        "party_size": party_size,
        "reason": reason,
        "refund_amount": refund_amount,
        "fee_kept": fee_kept,
        "customer_name": customer_name,
    }
    kind = f"booking_cancelled_by_{by}"
    return _send(kind, recipients, subject=("orders.order", order_id), context=context, link=link)


def booking_no_show(*, consumer, order_id, store_name, service_name, start, fee_kept, refund_amount, link):
    """The merchant marked the party as not come: what was kept and what goes back."""
    context = {
        "store_name": store_name,
        "service_name": service_name,
        "start": _wall_clock(start),
        "fee_kept": fee_kept,
        "refund_amount": refund_amount,
    }
    return _send("booking_no_show", [consumer], subject=("orders.order", order_id), context=context, link=link)


# --- vouchers, coupons and refunds ------------------------------------------------------------


def voucher_redeemed(*, consumer, redemption_id, title, code_display, store_name, redeemed_at, link):
    """The receipt of a code used in store (one per redemption: an undone and redone use is new)."""
    context = {
        "title": title,
        "code_display": code_display,
        "store_name": store_name,
        "redeemed_at": _wall_clock(redeemed_at),
    }
    subject = ("coupons.redemption", redemption_id)
    return _send("voucher_redeemed", [consumer], subject=subject, context=context, link=link)


def refund_done(*, consumer, refund_id, order_number, amount, link):
    """The gateway has returned the money."""
    context = {"order_number": order_number, "amount": amount}
    return _send("refund_done", [consumer], subject=("payments.refund", refund_id), context=context, link=link)


def coupon_expiring(*, consumer, coupon_id, title, valid_until, link):
    """An unused coupon expires within three days."""
    context = {"title": title, "valid_until": _wall_clock(valid_until)}
    return _send("coupon_expiring", [consumer], subject=("coupons.coupon", coupon_id), context=context, link=link)


def voucher_expiring(*, consumer, order_id, title, count, valid_until, store_name, link):
    """Unused vouchers of one order expire within three days (they are refunded if they do)."""
    context = {"title": title, "count": count, "valid_until": _wall_clock(valid_until), "store_name": store_name}
    return _send("voucher_expiring", [consumer], subject=("orders.order", order_id), context=context, link=link)


def voucher_auto_refunded(*, consumer, order_id, title, count, amount, link, refund_id=None):
    """Unused vouchers expired and are being refunded automatically (DESIGN §1: 过期退)."""
    context = {"title": title, "count": count, "amount": amount}
    subject = ("payments.refund", refund_id) if refund_id else ("orders.order", order_id)
    return _send("voucher_auto_refunded", [consumer], subject=subject, context=context, link=link)


# --- merchants ------------------------------------------------------------------------------------


def merchant_application_approved(*, applicant, application_id, business_name, link):
    context = {"business_name": business_name}
    subject = ("merchants.merchantapplication", application_id)
    return _send("merchant_application_approved", [applicant], subject=subject, context=context, link=link)


def merchant_application_rejected(*, applicant, application_id, business_name, reason, link):
    context = {"business_name": business_name, "reason": reason}
    subject = ("merchants.merchantapplication", application_id)
    return _send("merchant_application_rejected", [applicant], subject=subject, context=context, link=link)


def statement_ready(*, merchant_staff, statement_id, period, net, link):
    """A settlement statement is ready for the merchant's owner to check."""
    context = {"period": period, "net": net}
    subject = ("settlements.statement", statement_id)
    return _send("statement_ready", merchant_staff, subject=subject, context=context, link=link)


# --- reviews ----------------------------------------------------------------------------------------


def review_invitation(*, consumer, order_id, store_name, link):
    """After a visit: the consumer may review it (within 30 days)."""
    context = {"store_name": store_name}
    return _send("review_invitation", [consumer], subject=("orders.order", order_id), context=context, link=link)


def new_review(*, merchant_staff, review_id, store_name, rating, excerpt, link):
    context = {"store_name": store_name, "rating": rating, "excerpt": excerpt}
    return _send("new_review", merchant_staff, subject=("reviews.review", review_id), context=context, link=link)


def new_review_report(*, merchant_staff, report_id, store_name, reason, link):
    """A review of the merchant's store was reported and goes to moderation."""
    context = {"store_name": store_name, "reason": reason}
    subject = ("reviews.reviewreport", report_id)
    return _send("new_review_report", merchant_staff, subject=subject, context=context, link=link)


def review_reply(*, consumer, reply_id, store_name, excerpt, link):
    """The merchant replied to the consumer's review (once; later edits are not news)."""
    context = {"store_name": store_name, "excerpt": excerpt}
    subject = ("reviews.merchantreply", reply_id)
    return _send("review_reply", [consumer], subject=subject, context=context, link=link)
