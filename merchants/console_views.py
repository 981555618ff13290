"""Merchant console pages for the merchant itself and its stores (/merchant/...).

Every view is wrapped in `member_required` with the roles of DESIGN §2 and fetches objects only
through `_store_or_404`, which scopes them to the member's merchant (and assigned stores): a
store id of another merchant is a 404, the same answer as an id that does not exist.
"""

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from o2o.errors import DomainError
from o2o.images import ImageRejected

from . import services
from .access import EVERYONE, MANAGERS, OWNER, SESSION_KEY, member_required, member_stores
from .forms import ClosedDateForm, MerchantProfileForm, StoreForm, StoreHoursForm, StorePhotoForm
from .models import Merchant, MerchantMember, StorePhoto


def _scoped_stores(request):
    """The stores this member may see; the merchant filter also guards the assigned-stores path."""
    return member_stores(request.member).filter(merchant=request.merchant)


def _store_or_404(request, store_id):
    return get_object_or_404(_scoped_stores(request).select_related("city", "category__parent"), pk=store_id)


def _post_only():
    return HttpResponseNotAllowed(["POST"])


def _status(request, form):
    """400 for a refused submission, so tests and tools can tell it from a first view."""
    return 400 if request.method == "POST" and form.errors else 200


def _may_create_stores(member):
    # A manager limited to some stores could create a store and then not reach it.
    return member.role == OWNER or not member.stores.exists()


@member_required(EVERYONE)
def home(request):
    stores = (
        _scoped_stores(request)
        .select_related("city", "category")
        .prefetch_related(Prefetch("photos", queryset=StorePhoto.objects.filter(is_cover=True), to_attr="covers"))
        .order_by("name", "pk")
    )
    counts = stores.aggregate(total=Count("pk"), published=Count("pk", filter=Q(is_published=True)))
    context = {"stores": stores[:20], "counts": counts, "can_manage": request.member.can_manage}
    return render(request, "merchants/console/home.html", context)


@login_required
@require_POST
def switch_merchant(request):
    """Choose which of the user's merchants the console acts for."""
    merchant_id = request.POST.get("merchant", "")
    membership = None
    if merchant_id.isdigit():
        membership = (
            MerchantMember.objects.filter(user=request.user, merchant_id=int(merchant_id))
            # Only a merchant whose console opens: choosing another would lock the user out of the switcher.
            .filter(merchant__status__in=(Merchant.Status.APPROVED, Merchant.Status.SUSPENDED))
            .select_related("merchant")
            .first()
        )
    if membership is None:
        raise Http404
    request.session[SESSION_KEY] = membership.merchant_id
    messages.success(request, _("You are now working for %(merchant)s.") % {"merchant": membership.merchant.name})
    return redirect("console:home")


@member_required(MANAGERS)
def profile(request):
    merchant = copy.copy(request.merchant)  # the form edits its instance; the header keeps the saved name
    form = MerchantProfileForm(
        request.POST or None, instance=merchant, include_finances=request.member.can_see_finances
    )
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        if not changed:
            messages.info(request, _("Nothing was changed."))
            return redirect("console:profile")
        try:
            services.merchant_update_profile(merchant=request.merchant, acting_user=request.user, **changed)
        except (DomainError, ValidationError) as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Your merchant profile has been saved."))
            return redirect("console:profile")
    context = {"form": form, "commission_percent": request.merchant.effective_commission_rate * 100}
    return render(request, "merchants/console/profile.html", context, status=_status(request, form))


@member_required(MANAGERS)
def stores(request):
    store_list = (
        _scoped_stores(request)
        .select_related("city", "category__parent")
        .annotate(photo_count=Count("photos", distinct=True), hours_count=Count("hours", distinct=True))
        .prefetch_related(Prefetch("photos", queryset=StorePhoto.objects.filter(is_cover=True), to_attr="covers"))
        .order_by("name", "pk")
    )
    context = {"stores": store_list, "can_create": _may_create_stores(request.member)}
    return render(request, "merchants/console/stores.html", context)


def _save_store(request, form, store):
    """Validate and save through the service; return the saved store, or None with errors on the form."""
    if not form.is_valid():
        return None
    fields = {name: form.cleaned_data[name] for name in services.STORE_FIELDS if name in form.cleaned_data}
    try:
        return services.store_save(merchant=request.merchant, store=store, acting_user=request.user, **fields)
    except (DomainError, ValidationError) as exc:
        form.add_service_error(exc)
        return None


@member_required(MANAGERS)
def store_create(request):
    if not _may_create_stores(request.member):
        return render(
            request,
            "console/refused.html",
            {"message": _("You manage some stores only; ask the owner to add a new store.")},
            status=403,
        )
    initial = {"category": request.merchant.category_id}
    form = StoreForm(request.POST or None, initial=initial)
    if request.method == "POST":
        store = _save_store(request, form, None)
        if store is not None:
            messages.success(request, _("Store “%(name)s” created. Now set its opening hours.") % {"name": store.name})
            return redirect("console:store_hours", store_id=store.pk)
    return render(
        request, "merchants/console/store_form.html", {"form": form, "store": None}, status=_status(request, form)
    )


@member_required(MANAGERS)
def store_edit(request, store_id):
    store = _store_or_404(request, store_id)
    form = StoreForm(request.POST or None, instance=copy.copy(store))
    if request.method == "POST":
        saved = _save_store(request, form, store)
        if saved is not None:
            messages.success(request, _("Store “%(name)s” saved.") % {"name": saved.name})
            return redirect("console:store_edit", store_id=saved.pk)
    context = {"form": form, "store": store, "section": "details"}
    return render(request, "merchants/console/store_form.html", context, status=_status(request, form))


@member_required(MANAGERS)
def store_hours(request, store_id):
    store = _store_or_404(request, store_id)
    form = StoreHoursForm(request.POST or None, store=store)
    if request.method == "POST" and form.is_valid():
        try:
            services.store_hours_set(store=store, hours=form.cleaned_data["hours"], acting_user=request.user)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Opening hours saved."))
            return redirect("console:store_hours", store_id=store.pk)
    context = {"form": form, "store": store, "section": "hours"}
    return render(request, "merchants/console/store_hours.html", context, status=_status(request, form))


@member_required(MANAGERS)
def store_closed_dates(request, store_id):
    store = _store_or_404(request, store_id)
    form = ClosedDateForm(request.POST or None, store=store)
    if request.method == "POST" and form.is_valid():
        try:
            services.store_closed_date_add(
                store=store, date=form.cleaned_data["date"], note=form.cleaned_data["note"], acting_user=request.user
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("The store is now closed on %(date)s.") % {"date": form.cleaned_data["date"].isoformat()},
            )
            return redirect("console:store_closed_dates", store_id=store.pk)
    today = timezone.now().astimezone(store.tzinfo).date()
    closed = list(store.closed_dates.all())
    context = {
        "form": form,
        "store": store,
        "section": "closed_dates",
        "upcoming": [c for c in closed if c.date >= today],
        "past": [c for c in closed if c.date < today][-10:],
    }
    return render(request, "merchants/console/store_closed_dates.html", context, status=_status(request, form))


@member_required(MANAGERS)
def store_closed_date_remove(request, store_id):
    store = _store_or_404(request, store_id)
    if request.method != "POST":
        return _post_only()
    date = _parse_date_or_none(request.POST.get("date"))
    if date is None:
        messages.error(request, _("That is not a date."))
    elif services.store_closed_date_remove(store=store, date=date, acting_user=request.user):
        messages.success(request, _("The store opens as usual on %(date)s.") % {"date": date.isoformat()})
    else:
        messages.info(request, _("%(date)s was not a closed date.") % {"date": date.isoformat()})
    return redirect("console:store_closed_dates", store_id=store.pk)


def _parse_date_or_none(value):
    # parse_date returns None for a malformed date and raises ValueError for an impossible one (02-30).
    try:
        return parse_date(value or "")
    except ValueError:
        return None


@member_required(MANAGERS)
def store_photos(request, store_id):
    store = _store_or_404(request, store_id)
    form = StorePhotoForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.store_photo_add(
                store=store,
                upload=form.cleaned_data["image"],
                caption=form.cleaned_data["caption"],
                make_cover=form.cleaned_data["make_cover"],
                acting_user=request.user,
            )
        except ImageRejected as exc:
            form.add_service_error(exc, field="image")
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Photo added."))
            return redirect("console:store_photos", store_id=store.pk)
    context = {
        "form": form,
        "store": store,
        "section": "photos",
        "photos": store.photos.all(),
        "max_photos": services.MAX_STORE_PHOTOS,
    }
    return render(request, "merchants/console/store_photos.html", context, status=_status(request, form))


def _photo_or_404(request, store_id, photo_id):
    store = _store_or_404(request, store_id)
    return store, get_object_or_404(StorePhoto, pk=photo_id, store=store)


@member_required(MANAGERS)
def store_photo_cover(request, store_id, photo_id):
    store, photo = _photo_or_404(request, store_id, photo_id)
    if request.method != "POST":
        return _post_only()
    try:
        services.store_photo_set_cover(photo=photo, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Cover photo changed."))
    return redirect("console:store_photos", store_id=store.pk)


@member_required(MANAGERS)
def store_photo_delete(request, store_id, photo_id):
    store, photo = _photo_or_404(request, store_id, photo_id)
    if request.method != "POST":
        return _post_only()
    services.store_photo_delete(photo=photo, acting_user=request.user)
    messages.success(request, _("Photo deleted."))
    return redirect("console:store_photos", store_id=store.pk)
