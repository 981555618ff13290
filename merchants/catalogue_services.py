"""Every write on a merchant's catalogue: services, their schedules and date rules, and deals.

Each function is atomic, checks the catalogue rules itself (the console and the API call the
same functions, so a rule lives in one place), and writes an audit event. Rule violations are
`Invalid` errors naming the field at fault; when several rules fail at once, the first is the
error's message and `extra["errors"]` maps every field at fault to its messages, so a form can
show them all in one go.
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from o2o.audit import audit
from o2o.errors import Invalid, NotFound

from .models import Deal, Service, ServiceDateRule, ServiceSchedule, Store

ZERO = Decimal("0.00")
MAX_RULES_PER_DAY = 12
MAX_CONTENT_LINES = 30

SERVICE_FIELDS = (
    "name",
    "description",
    "price",
    "prepayment",
    "deposit",
    "duration_minutes",
    "capacity",
    "capacity_per_person",
    "min_party",
    "max_party",
    "booking_window_days",
    "min_notice_minutes",
    "cancellation_policy",
    "is_active",
)

DEAL_FIELDS = (
    "title",
    "contents",
    "price",
    "original_price",
    "stock",
    "per_user_limit",
    "max_per_order",
    "sale_starts",
    "sale_ends",
    "valid_days",
    "valid_until",
    "weekdays_only",
    "max_per_visit",
    "needs_appointment",
    "appointment_service",
    "usage_notes",
    "is_active",
)


class _Problems:
    """Collects rule violations so that one submission reports all of them."""

    def __init__(self):
        self.items = []

    def add(self, field, message, code):
        self.items.append((field, str(message), code))

    def raise_if_any(self):
        if not self.items:
            return
        field, message, code = self.items[0]
        errors = {}
        for name, text, _code in self.items:
            errors.setdefault(name, []).append(text)
        raise Invalid(message, field=field, code=code, extra={"errors": errors})


def _unknown_fields(fields, allowed):
    unknown = set(fields) - set(allowed)
    if unknown:
        raise Invalid(_("These fields cannot be changed here: %s") % ", ".join(sorted(unknown)), code="unknown_fields")


def _check_store(merchant, store):
    if store is None:
        raise Invalid(_("Choose a store."), field="store", code="store_required")
    if store.merchant_id != merchant.pk:
        raise NotFound(_("No such store."), field="store", code="not_your_store")


def _lock_store(store_id):
    return Store.objects.select_for_update(of=("self",)).get(pk=store_id)


# --- services ----------------------------------------------------------------------------


def _check_service_rules(service):
    problems = _Problems()
    if service.price is not None and service.price < 0:
        problems.add("price", _("The price cannot be negative."), "negative_price")
    if service.prepayment == Service.Prepayment.DEPOSIT:
        if service.deposit is None or service.deposit <= 0:
            problems.add("deposit", _("Give the deposit amount, or choose another prepayment."), "deposit_required")
        elif service.price is not None and service.deposit > service.price:
            problems.add("deposit", _("The deposit cannot be more than the price."), "deposit_over_price")
    if service.min_party and service.max_party and service.min_party > service.max_party:
        problems.add("max_party", _("The largest party cannot be smaller than the smallest."), "party_range")
    # Each guest takes a place: a party larger than a slot could never be booked.
    if service.capacity_per_person and service.max_party and service.capacity and service.max_party > service.capacity:
        problems.add(
            "max_party",
            _("When each person takes a place, the largest party must fit in a slot (%(n)d places).")
            % {"n": service.capacity},
            "party_over_capacity",
        )
    problems.raise_if_any()


@transaction.atomic
def service_save(*, merchant, acting_user, service=None, store=None, **fields):
    """Create a service at `store`, or update `service`; both must belong to `merchant`.

    A service stays at the store it was created for: its bookings and their history are there.
    """
    _unknown_fields(fields, SERVICE_FIELDS)
    if service is None:
        _check_store(merchant, store)
        service = Service(store=store)
        created = True
    else:
        service = Service.objects.select_for_update(of=("self",)).select_related("store").get(pk=service.pk)
        if service.store.merchant_id != merchant.pk:
            raise NotFound(_("No such service."), code="not_your_service")
        if store is not None and store.pk != service.store_id:
            raise Invalid(_("A service cannot move to another store."), field="store", code="store_fixed")
        created = False
    for key, value in fields.items():
        setattr(service, key, value)
    if service.prepayment != Service.Prepayment.DEPOSIT:
        service.deposit = ZERO  # only a deposit service uses it; a stale figure would confuse later edits
    _check_service_rules(service)
    service.full_clean(exclude=["store"])
    if created:
        service.save()
    else:
        service.save(update_fields=[*fields, "deposit"])
    audit("service.created" if created else "service.updated", service, actor=acting_user, fields=sorted(fields))
    return service


def _check_slot_rule(problems, field, starts, ends, slot_minutes):
    if not isinstance(starts, dt.time) or not isinstance(ends, dt.time):
        problems.add(field, _("Give the first and the last slot time."), "times_required")
        return
    if ends < starts:
        problems.add(
            field,
            _("The last slot (%(ends)s) is before the first (%(starts)s); a rule stays within one day.")
            % {"starts": f"{starts:%H:%M}", "ends": f"{ends:%H:%M}"},
            "schedule_order",
        )
    if not isinstance(slot_minutes, int) or not 5 <= slot_minutes <= 24 * 60:
        problems.add(field, _("Slots must be 5 to 1440 minutes apart."), "bad_slot_minutes")


def _lock_service(service):
    return Service.objects.select_for_update(of=("self",)).select_related("store__city").get(pk=service.pk)


@transaction.atomic
def service_schedules_set(*, service, rules, acting_user=None):
    """Replace the service's weekly rules: `rules` is a list of (weekday, starts, ends, slot_minutes).

    Each rule gives slots from `starts`, every `slot_minutes`, the last one starting by `ends`.
    Rules may overlap; the slots are the union.
    """
    problems = _Problems()
    per_day = {}
    for weekday, starts, ends, slot_minutes in rules:
        field = f"day_{weekday}"
        if not isinstance(weekday, int) or not 0 <= weekday <= 6:
            problems.add("schedule", _("Weekday must be 0 (Monday) to 6 (Sunday)."), "bad_weekday")
            continue
        _check_slot_rule(problems, field, starts, ends, slot_minutes)
        per_day.setdefault(weekday, set()).add((starts, ends, slot_minutes))
    for weekday, day_rules in per_day.items():
        if len(day_rules) > MAX_RULES_PER_DAY:
            problems.add(f"day_{weekday}", _("At most %(n)d rules a day.") % {"n": MAX_RULES_PER_DAY}, "too_many_rules")
    problems.raise_if_any()
    # Race: two editors saving at once would each delete and then both insert; the service
    # lock makes the second replace the first's rules instead of adding to them.
    service = _lock_service(service)
    ServiceSchedule.objects.filter(service=service).delete()
    ServiceSchedule.objects.bulk_create(
        ServiceSchedule(service=service, weekday=weekday, starts=starts, ends=ends, slot_minutes=slot_minutes)
        for weekday, day_rules in sorted(per_day.items())
        for starts, ends, slot_minutes in sorted(day_rules)
    )
    audit(
        "service.schedule_set",
        service,
        actor=acting_user,
        rules=[
            f"{weekday} {starts:%H:%M}-{ends:%H:%M}/{slot_minutes}"
            for weekday, day_rules in sorted(per_day.items())
            for starts, ends, slot_minutes in sorted(day_rules)
        ],
    )
    return service


@transaction.atomic
def service_date_rule_add(*, service, date, kind, starts=None, ends=None, slot_minutes=30, acting_user=None, now=None):
    """Close the service on `date`, or open extra slots on it (starts..ends every slot_minutes).

    Closing an already closed date is harmless and returns the existing rule. Bookings already
    made for a closed date stand: the merchant cancels them from the bookings page.
    """
    service = _lock_service(service)
    today = (now or timezone.now()).astimezone(service.store.tzinfo).date()
    problems = _Problems()
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        problems.add("date", _("Give a date."), "date_required")
    elif date < today:
        problems.add("date", _("Pick today or a later date."), "date_in_past")
    if kind not in ServiceDateRule.Kind.values:
        problems.add("kind", _("Choose closed or extra opening."), "bad_kind")
    elif kind == ServiceDateRule.Kind.EXTRA:
        _check_slot_rule(problems, "times", starts, ends, slot_minutes)
        if service.date_rules.filter(date=date, kind=ServiceDateRule.Kind.CLOSED).exists():
            problems.add("date", _("The service is closed on this date; remove the closure first."), "date_closed")
    problems.raise_if_any()
    if kind == ServiceDateRule.Kind.CLOSED:
        existing = service.date_rules.filter(date=date, kind=kind).first()
        if existing is not None:
            return existing
        rule = ServiceDateRule.objects.create(service=service, date=date, kind=kind, starts=None, ends=None)
    else:
        rule = ServiceDateRule.objects.create(
            service=service, date=date, kind=kind, starts=starts, ends=ends, slot_minutes=slot_minutes
        )
    audit("service.date_rule_added", service, actor=acting_user, rule=str(rule), date=date.isoformat(), kind=kind)
    return rule


@transaction.atomic
def service_date_rule_remove(*, service, rule_id, acting_user=None):
    """Remove one date rule of the service; removing one that is gone already is harmless."""
    service = _lock_service(service)
    rule = service.date_rules.filter(pk=rule_id).first()
    if rule is None:
        return False
    description = str(rule)
    rule.delete()
    audit("service.date_rule_removed", service, actor=acting_user, rule=description)
    return True


# --- deals -----------------------------------------------------------------------------------


def _clean_contents(problems, contents):
    """Normalise the package contents to [{name, quantity, price}] with price as a string."""
    if contents in (None, ""):
        return []
    if not isinstance(contents, list):
        problems.add("contents", _("List what the package includes."), "bad_contents")
        return []
    if len(contents) > MAX_CONTENT_LINES:
        problems.add("contents", _("At most %(n)d items.") % {"n": MAX_CONTENT_LINES}, "bad_contents")
        return []
    cleaned = []
    for item in contents:
        name = str(item.get("name", "")).strip() if isinstance(item, dict) else ""
        quantity = item.get("quantity", 1) if isinstance(item, dict) else None
        try:
            price = Decimal(str(item.get("price"))).quantize(Decimal("0.01")) if isinstance(item, dict) else None
        except (ArithmeticError, ValueError):
            price = None
        if not name or len(name) > 100:
            problems.add("contents", _("Each item needs a name of up to 100 characters."), "bad_contents")
        elif not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 999:
            problems.add("contents", _("“%(name)s”: the quantity must be 1 to 999.") % {"name": name}, "bad_contents")
        elif price is None or not price.is_finite() or price < 0:
            problems.add("contents", _("“%(name)s”: give a price of 0 or more.") % {"name": name}, "bad_contents")
        else:
            cleaned.append({"name": name, "quantity": quantity, "price": str(price)})
    return cleaned


def _check_deal_rules(problems, deal, *, merchant, today):
    if deal.price is None or deal.price <= 0:
        problems.add("price", _("The price must be more than 0."), "price_not_positive")
    elif deal.original_price is not None and deal.price > deal.original_price:
        problems.add("price", _("The price cannot be more than the original price."), "price_over_original")
    if deal.original_price is not None and deal.original_price < 0:
        problems.add("original_price", _("The original price cannot be negative."), "negative_price")
    if deal.stock is not None and deal.stock < deal.units_taken:
        problems.add(
            "stock",
            _("%(n)d units are already sold or held; the stock cannot be lower.") % {"n": deal.units_taken},
            "stock_below_taken",
        )
    if not deal.valid_days and not deal.valid_until:
        problems.add(
            "valid_days", _("Say how long vouchers stay valid: days after purchase or a fixed date."), "no_validity"
        )
    if deal.valid_until and deal.valid_until < today:
        problems.add("valid_until", _("The fixed validity date has passed."), "validity_in_past")
    if deal.sale_starts and deal.sale_ends and deal.sale_ends <= deal.sale_starts:
        problems.add("sale_ends", _("The sale must end after it starts."), "sale_window")
    if deal.appointment_service is not None and deal.appointment_service.store.merchant_id != merchant.pk:
        problems.add("appointment_service", _("Choose one of your own services."), "not_your_service")


@transaction.atomic
def deal_save(*, merchant, acting_user, deal=None, store=None, usable_stores=None, now=None, **fields):
    """Create a deal at `store`, or update `deal`; both must belong to `merchant`.

    `usable_stores` (None: unchanged) lists the stores where vouchers can be redeemed; empty
    means only the selling store. The store's `has_deals` flag follows the change.
    """
    _unknown_fields(fields, DEAL_FIELDS)
    now = now or timezone.now()
    if deal is None:
        _check_store(merchant, store)
        deal = Deal(store=store)
        created = True
    else:
        # Race: orders change units_taken with conditional UPDATEs at any moment. The row lock
        # holds them off until COMMIT, so the stock check below compares with the real figure,
        # and the save names its fields so a stale units_taken is never written back.
        deal = Deal.objects.select_for_update(of=("self",)).select_related("store__city").get(pk=deal.pk)
        if deal.store.merchant_id != merchant.pk:
            raise NotFound(_("No such deal."), code="not_your_deal")
        if store is not None and store.pk != deal.store_id:
            raise Invalid(_("A deal cannot move to another store."), field="store", code="store_fixed")
        created = False
    problems = _Problems()
    if "contents" in fields:
        fields["contents"] = _clean_contents(problems, fields["contents"])
    if not fields.get("needs_appointment", deal.needs_appointment):
        fields["appointment_service"] = None
    for key, value in fields.items():
        setattr(deal, key, value)
    _check_deal_rules(problems, deal, merchant=merchant, today=now.astimezone(deal.store.tzinfo).date())
    usable = None
    if usable_stores is not None:
        usable = list(usable_stores)
        if any(s.merchant_id != merchant.pk for s in usable):
            problems.add("usable_stores", _("Vouchers can be used only at your own stores."), "not_your_store")
    problems.raise_if_any()
    deal.full_clean(exclude=["store", "appointment_service", "usable_stores"])
    if created:
        deal.save()
    else:
        deal.save(update_fields=list(fields))
    if usable is not None:
        deal.usable_stores.set(usable)
    audit(
        "deal.created" if created else "deal.updated",
        deal,
        actor=acting_user,
        fields=sorted([*fields, *(["usable_stores"] if usable is not None else [])]),
    )
    store_has_deals_refresh(store_id=deal.store_id, now=now)
    return deal


@transaction.atomic
def deal_set_active(*, deal, is_active, acting_user=None, now=None):
    """Put a deal on sale or take it off; the store's `has_deals` flag follows. Idempotent."""
    deal = Deal.objects.select_for_update(of=("self",)).get(pk=deal.pk)
    if deal.is_active != is_active:
        deal.is_active = is_active
        deal.save(update_fields=["is_active"])
        audit("deal.put_on_sale" if is_active else "deal.taken_off_sale", deal, actor=acting_user)
    store_has_deals_refresh(store_id=deal.store_id, now=now)
    return deal


def _deals_on_sale(now):
    """Active deals inside their sale window. Publication and the merchant's status are left
    out on purpose: discovery filters on them already, and they change outside this module."""
    return Deal.objects.filter(is_active=True).filter(
        Q(sale_starts__isnull=True) | Q(sale_starts__lte=now),
        Q(sale_ends__isnull=True) | Q(sale_ends__gt=now),
    )


@transaction.atomic
def store_has_deals_refresh(*, store_id, now=None):
    """Set `Store.has_deals` to whether the store has an active deal on sale now.

    Sale windows open and close with time alone, so a periodic job calls
    `stores_has_deals_refresh` as well; this per-store call keeps the flag right after every edit.
    """
    now = now or timezone.now()
    # Race: two deals of one store edited at once would each see the other's old state and
    # could leave the flag wrong; the store lock (taken after the deal's, the order in which
    # orders.services takes them too) makes the second look after the first has committed.
    store = _lock_store(store_id)
    has_deals = _deals_on_sale(now).filter(store_id=store_id).exists()
    if store.has_deals != has_deals:
        store.has_deals = has_deals
        store.save(update_fields=["has_deals"])
    return has_deals


def stores_has_deals_refresh(*, now=None):
    """Repair `has_deals` on every store whose flag disagrees with its deals (sales that opened
    or closed since the last edit). Returns how many stores changed."""
    now = now or timezone.now()
    on_sale = _deals_on_sale(now).values("store_id")
    wrong = Store.objects.filter(Q(has_deals=True) & ~Q(pk__in=on_sale) | Q(has_deals=False) & Q(pk__in=on_sale))
    changed = 0
    for store_id in wrong.values_list("pk", flat=True):
        # Each store is re-checked under its lock: an edit may have fixed it meanwhile.
        before = Store.objects.filter(pk=store_id).values_list("has_deals", flat=True).first()
        if before is not None and store_has_deals_refresh(store_id=store_id, now=now) != before:
            changed += 1
    return changed
