"""Merchant console pages of the catalogue: bookable services with their schedules, and deals.

Owners and managers only. Every object is fetched through `_services` / `_deals`, which scope
it to the member's merchant and stores: another merchant's id is a 404, the same answer as an
id that does not exist. Writes go through merchants.catalogue_services.
"""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from o2o.errors import DomainError

from . import catalogue_services as services
from .access import MANAGERS, member_required, member_stores
from .catalogue_forms import WEEKDAY_NAMES, DateRuleForm, DealForm, ScheduleForm, ServiceForm, format_slot_rule
from .models import Deal, Service, ServiceDateRule, Store
from .schedule import slot_starts

PREVIEW_DAYS = 7


def _scoped_stores(request):
    """The stores this member may edit; the merchant filter also guards the assigned-stores path."""
    return member_stores(request.member).filter(merchant=request.merchant).select_related("city")


def _services(request):
    return Service.objects.filter(store__in=_scoped_stores(request)).select_related("store__city")


def _deals(request):
    return Deal.objects.filter(store__in=_scoped_stores(request)).select_related("store__city")


def _status(request, *forms):
    """400 for a refused submission, so tests and tools can tell it from a first view."""
    return 400 if request.method == "POST" and any(form.is_bound and form.errors for form in forms) else 200


def _chosen_store(request, stores):
    """The store picked with ?store=, if it is one of `stores`; anything else means all stores."""
    raw = request.GET.get("store", "")
    return stores.filter(pk=int(raw)).first() if raw.isdigit() else None


# --- services --------------------------------------------------------------------------------


@member_required(MANAGERS)
def services_list(request):
    stores = _scoped_stores(request).order_by("name", "pk")
    chosen = _chosen_store(request, stores)
    shown = [chosen] if chosen else list(stores)
    service_rows = (
        Service.objects.filter(store__in=[s.pk for s in shown])
        .annotate(rule_count=Count("schedules"))
        .order_by("name", "pk")
    )
    by_store = {}
    for service in service_rows:
        by_store.setdefault(service.store_id, []).append(service)
    groups = [(store, by_store.get(store.pk, [])) for store in shown]
    context = {
        "stores": stores,
        "chosen": chosen,
        "groups": groups,
        "has_any": any(items for _store, items in groups),
    }
    return render(request, "merchants/console/catalogue/services.html", context)


@member_required(MANAGERS)
def service_new(request):
    stores = _scoped_stores(request).order_by("name", "pk")
    chosen = _chosen_store(request, stores)
    form = ServiceForm(request.POST or None, stores=stores, initial={"store": chosen.pk if chosen else None})
    if request.method == "POST" and form.is_valid():
        try:
            service = services.service_save(
                merchant=request.merchant,
                acting_user=request.user,
                store=form.cleaned_data["store"],
                **form.service_fields(),
            )
        except (DomainError, ValidationError) as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("Service “%(name)s” created. Now give it its weekly slots.") % {"name": service.name},
            )
            return redirect("console:service_schedule", service_id=service.pk)
    context = {"form": form, "service": None, "has_stores": stores.exists()}
    return render(request, "merchants/console/catalogue/service_form.html", context, status=_status(request, form))


@member_required(MANAGERS)
def service_edit(request, service_id):
    service = get_object_or_404(_services(request), pk=service_id)
    form = ServiceForm(request.POST or None, instance=service)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.service_save(
                merchant=request.merchant, acting_user=request.user, service=service, **form.service_fields()
            )
        except (DomainError, ValidationError) as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Service “%(name)s” saved.") % {"name": saved.name})
            return redirect("console:service_edit", service_id=saved.pk)
    context = {"form": form, "service": service, "section": "details"}
    return render(request, "merchants/console/catalogue/service_form.html", context, status=_status(request, form))


def _schedule_service_or_404(request, service_id):
    queryset = _services(request).prefetch_related("schedules", "date_rules", "store__closed_dates", "store__hours")
    return get_object_or_404(queryset, pk=service_id)


def _slot_preview(service, today):
    """The next days' start times as consumers will see them (before bookings fill them):
    the same `slot_starts` the booking pages use, so the two cannot disagree."""
    closed_store = {c.date for c in service.store.closed_dates.all()}
    closed_rule = {r.date for r in service.date_rules.all() if r.kind == ServiceDateRule.Kind.CLOSED}
    days = []
    for offset in range(PREVIEW_DAYS):
        date = today + dt.timedelta(days=offset)
        starts = slot_starts(service, date)
        if date in closed_store:
            reason = _("The store is closed.")
        elif date in closed_rule:
            reason = _("Closed for this service.")
        elif not starts:
            reason = _("No slots on this day.")
        else:
            reason = ""
        slots = [{"time": f"{start:%H:%M}", "outside_hours": not service.store.is_open_at(start)} for start in starts]
        days.append(
            {
                "date": date,
                "weekday": WEEKDAY_NAMES[date.weekday()],
                "slots": slots,
                "reason": reason,
                "outside_hours": sum(1 for s in slots if s["outside_hours"]),
            }
        )
    return days


def _render_schedule(request, service, *, schedule_form=None, date_form=None):
    today = timezone.now().astimezone(service.store.tzinfo).date()
    schedule_form = schedule_form or ScheduleForm(service=service)
    date_form = date_form or DateRuleForm(initial={"date": today})
    rules = list(service.date_rules.all())
    weekly = [
        (
            WEEKDAY_NAMES[day],
            [format_slot_rule(r.starts, r.ends, r.slot_minutes) for r in service.schedules.all() if r.weekday == day],
        )
        for day in range(7)
    ]
    context = {
        "service": service,
        "section": "schedule",
        "schedule_form": schedule_form,
        "date_form": date_form,
        "upcoming_rules": [r for r in rules if r.date >= today],
        "weekly": weekly,
        "has_weekly": any(slots for _day, slots in weekly),
        "preview": _slot_preview(service, today),
        "today": today,
    }
    status = _status(request, schedule_form, date_form)
    return render(request, "merchants/console/catalogue/service_schedule.html", context, status=status)


@member_required(MANAGERS)
def service_schedule(request, service_id):
    service = _schedule_service_or_404(request, service_id)
    form = ScheduleForm(request.POST or None, service=service)
    if request.method == "POST" and form.is_valid():
        try:
            services.service_schedules_set(service=service, rules=form.cleaned_data["rules"], acting_user=request.user)
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Weekly slots of “%(name)s” saved.") % {"name": service.name})
            return redirect("console:service_schedule", service_id=service.pk)
    return _render_schedule(request, service, schedule_form=form if request.method == "POST" else None)


@member_required(MANAGERS)
def service_date_rule_add(request, service_id):
    service = _schedule_service_or_404(request, service_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = DateRuleForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            rule = services.service_date_rule_add(
                service=service,
                date=data["date"],
                kind=data["kind"],
                starts=data.get("starts"),
                ends=data.get("ends"),
                slot_minutes=data.get("slot_minutes", 30),
                acting_user=request.user,
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            if rule.kind == ServiceDateRule.Kind.CLOSED:
                text = _("“%(name)s” is closed on %(date)s. Bookings already made for that day still stand.")
            else:
                text = _("Extra slots for “%(name)s” on %(date)s added.")
            messages.success(request, text % {"name": service.name, "date": rule.date.isoformat()})
            return redirect("console:service_schedule", service_id=service.pk)
    return _render_schedule(request, service, date_form=form)


@member_required(MANAGERS)
def service_date_rule_remove(request, service_id, rule_id):
    service = _schedule_service_or_404(request, service_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if services.service_date_rule_remove(service=service, rule_id=rule_id, acting_user=request.user):
        messages.success(request, _("Date rule removed."))
    else:
        messages.info(request, _("That date rule was already removed."))
    return redirect("console:service_schedule", service_id=service.pk)


# --- deals -----------------------------------------------------------------------------------


def deal_state(deal, now):
    """(label, tag class) of where a deal stands for consumers right now."""
    if not deal.is_active:
        return _("Off sale"), "gray"
    if deal.sale_ends and deal.sale_ends <= now:
        return _("Sale ended"), "gray"
    if deal.sale_starts and deal.sale_starts > now:
        return _("Starts later"), ""
    if deal.stock is not None and deal.units_taken >= deal.stock:
        return _("Sold out"), "bad"
    return _("On sale"), "ok"


@member_required(MANAGERS)
def deals_list(request):
    stores = _scoped_stores(request).order_by("name", "pk")
    chosen = _chosen_store(request, stores)
    shown = [chosen] if chosen else list(stores)
    now = timezone.now()
    by_store = {}
    for deal in Deal.objects.filter(store__in=[s.pk for s in shown]).order_by("-is_active", "-pk"):
        deal.state_label, deal.state_class = deal_state(deal, now)
        by_store.setdefault(deal.store_id, []).append(deal)
    groups = [(store, by_store.get(store.pk, [])) for store in shown]
    context = {
        "stores": stores,
        "chosen": chosen,
        "groups": groups,
        "has_any": any(items for _store, items in groups),
    }
    return render(request, "merchants/console/catalogue/deals.html", context)


def _deal_form(request, *, instance=None, stores=None, initial=None):
    merchant_stores = Store.objects.filter(merchant=request.merchant).order_by("name", "pk")
    merchant_services = (
        Service.objects.filter(store__merchant=request.merchant).select_related("store").order_by("store__name", "name")
    )
    return DealForm(
        request.POST or None,
        instance=instance,
        stores=stores,
        merchant_stores=merchant_stores,
        services=merchant_services,
        initial=initial,
    )


@member_required(MANAGERS)
def deal_new(request):
    stores = _scoped_stores(request).order_by("name", "pk")
    chosen = _chosen_store(request, stores)
    form = _deal_form(request, stores=stores, initial={"store": chosen.pk if chosen else None, "valid_days": 90})
    if request.method == "POST" and form.is_valid():
        try:
            deal = services.deal_save(
                merchant=request.merchant,
                acting_user=request.user,
                store=form.cleaned_data["store"],
                usable_stores=form.cleaned_data["usable_stores"],
                **form.deal_fields(),
            )
        except (DomainError, ValidationError) as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Deal “%(title)s” created.") % {"title": deal.title})
            return redirect(f"{reverse('console:deals')}?store={deal.store_id}")
    context = {"form": form, "deal": None, "has_stores": stores.exists()}
    return render(request, "merchants/console/catalogue/deal_form.html", context, status=_status(request, form))


@member_required(MANAGERS)
def deal_edit(request, deal_id):
    deal = get_object_or_404(_deals(request).prefetch_related("usable_stores"), pk=deal_id)
    form = _deal_form(request, instance=deal)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.deal_save(
                merchant=request.merchant,
                acting_user=request.user,
                deal=deal,
                usable_stores=form.cleaned_data["usable_stores"],
                **form.deal_fields(),
            )
        except (DomainError, ValidationError) as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Deal “%(title)s” saved.") % {"title": saved.title})
            return redirect("console:deal_edit", deal_id=saved.pk)
    context = {"form": form, "deal": deal, "state": deal_state(deal, timezone.now())}
    return render(request, "merchants/console/catalogue/deal_form.html", context, status=_status(request, form))


@member_required(MANAGERS)
def deal_set_active(request, deal_id):
    deal = get_object_or_404(_deals(request), pk=deal_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    is_active = request.POST.get("is_active") == "1"
    services.deal_set_active(deal=deal, is_active=is_active, acting_user=request.user)
    if is_active:
        messages.success(request, _("“%(title)s” is on sale.") % {"title": deal.title})
    else:
        messages.success(
            request, _("“%(title)s” is off sale; vouchers already sold stay valid.") % {"title": deal.title}
        )
    return redirect(f"{reverse('console:deals')}?store={deal.store_id}")
