"""Merchant console pages of in-store redemption (/merchant/verify/, /merchant/redemptions/).

Verify is the page a clerk keeps open at the counter: type or scan a code, look it up (step
one), confirm (step two, a form carrying a request key made for that lookup, so a double tap or
a resent form returns the first result), see the result and type the next code. Every role may
verify (DESIGN §2), at the stores it works for; the chosen store is remembered in the session.

A refused code is shown on the Verify page with the HTTP status the API uses (404, 409, 410,
400, 429), never a 500. The flow itself is orders.redemption; these views only read forms.
"""

import csv

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from merchants.access import EVERYONE, member_required
from merchants.models import MerchantMember
from o2o.errors import Busy, DomainError
from o2o.ratelimit import client_ip

from . import redemption as flow

SESSION_STORE = "verify_store_id"
HISTORY_PAGE_SIZE = 50
RECENT_ON_VERIFY = 5


# --- forms ---------------------------------------------------------------------------------------


class VerifyForm(forms.Form):
    """Step one: a code (typed, pasted or filled in by the scanner) at one of the member's stores."""

    store = forms.ModelChoiceField(
        label=gettext_lazy("Store"),
        queryset=None,
        error_messages={
            "required": gettext_lazy("Choose the store you are at."),
            "invalid_choice": gettext_lazy("Choose one of your stores."),
        },
    )
    code = forms.CharField(
        label=gettext_lazy("Voucher code"),
        max_length=flow.MAX_CODE_INPUT,
        error_messages={"required": gettext_lazy("Enter the 12-digit code.")},
    )

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores


class ConfirmForm(forms.Form):
    """Step two: what the lookup found, sent back with the lookup's request key."""

    store = forms.IntegerField(widget=forms.HiddenInput)
    code = forms.CharField(widget=forms.HiddenInput, max_length=flow.MAX_CODE_INPUT)
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=flow.MAX_REQUEST_KEY)


class HistoryForm(forms.Form):
    store = forms.ModelChoiceField(
        label=gettext_lazy("Store"), queryset=None, required=False, empty_label=gettext_lazy("All my stores")
    )
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[
            ("", gettext_lazy("All")),
            (flow.HistoryStatus.LIVE, gettext_lazy("Used")),
            (flow.HistoryStatus.UNDONE, gettext_lazy("Undone")),
        ],
    )
    member = forms.TypedChoiceField(label=gettext_lazy("Staff"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, stores, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores
        staff = MerchantMember.objects.filter(merchant=merchant).select_related("user").order_by("user__username")
        self.fields["member"].choices = [("", _("Everyone"))] + [
            (m.user_id, f"{m.user.shown_name} ({m.get_role_display()})") for m in staff
        ]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


class UndoForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why is it undone?"),
        max_length=flow.MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("For example: “Confirmed the wrong code, the customer has not been served.”"),
        error_messages={"required": gettext_lazy("Say why the redemption is undone.")},
    )


# --- helpers -------------------------------------------------------------------------------------


def _device(request):
    return request.META.get("HTTP_USER_AGENT", "")[:200]


def _chosen_store(request, stores):
    """The store remembered in the session if the member still works there, else their only one."""
    remembered = request.session.get(SESSION_STORE)
    store = next((s for s in stores if s.pk == remembered), None)
    if store is None and len(stores) == 1:
        store = stores[0]
    return store


def _verify_page(request, *, stores, form=None, error=None, status=200):
    chosen = _chosen_store(request, stores)
    if form is None:
        form = VerifyForm(stores=flow.verify_stores(request.member), initial={"store": chosen})
    recent = []
    if chosen is not None:
        recent = list(flow.redemptions_for_member(request.member, store=chosen)[:RECENT_ON_VERIFY])
    context = {"form": form, "stores": stores, "chosen_store": chosen, "error": error, "recent": recent}
    if error is not None:
        status = error.status_code
    response = render(request, "orders/console/verify.html", context, status=status)
    if isinstance(error, Busy):
        response["Retry-After"] = str(error.retry_after)
    return response


# --- Verify ---------------------------------------------------------------------------------------


@member_required(EVERYONE)
def verify(request):
    return _verify_page(request, stores=list(flow.verify_stores(request.member)))


@member_required(EVERYONE)
def verify_lookup(request):
    """Step one: show what the code is for, with the confirm form; or why it is refused."""
    if request.method != "POST":
        return redirect("console:verify")  # a reload of the lookup page: start again
    stores = list(flow.verify_stores(request.member))
    data = request.POST.copy()
    chosen = _chosen_store(request, stores)
    if not data.get("store") and chosen is not None:  # the console home's box sends the code only
        data["store"] = str(chosen.pk)
    form = VerifyForm(data, stores=flow.verify_stores(request.member))
    if not form.is_valid():
        return _verify_page(request, stores=stores, form=form, status=400)
    store = form.cleaned_data["store"]
    request.session[SESSION_STORE] = store.pk
    try:
        lookup = flow.voucher_lookup(code=form.cleaned_data["code"], member=request.member, store=store)
    except DomainError as exc:
        return _verify_page(request, stores=stores, form=form, error=exc)
    confirm = ConfirmForm(
        initial={"store": store.pk, "code": lookup.voucher.code, "request_key": flow.new_request_key()}
    )
    return render(request, "orders/console/verify_confirm.html", {"lookup": lookup, "confirm": confirm})


@member_required(EVERYONE)
def verify_confirm(request):
    """Step two: use the voucher, then show the result (post/redirect/get)."""
    if request.method != "POST":
        return redirect("console:verify")
    stores = list(flow.verify_stores(request.member))
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        error = DomainError(_("Look the code up again, then confirm."), code="bad_confirm")
        return _verify_page(request, stores=stores, error=error)
    try:
        store = flow.store_for_member(request.member, form.cleaned_data["store"])
        redemption = flow.voucher_redeem(
            code=form.cleaned_data["code"],
            member=request.member,
            store=store,
            request_key=form.cleaned_data["request_key"],
            ip=client_ip(request),
            device=_device(request),
        )
    except DomainError as exc:
        return _verify_page(request, stores=stores, error=exc)
    request.session[SESSION_STORE] = store.pk
    return redirect("console:verify_done", redemption_id=redemption.pk)


@member_required(EVERYONE)
def verify_done(request, redemption_id):
    try:
        redemption = flow.redemption_for_member(request.member, redemption_id)
    except DomainError as exc:
        return _verify_page(request, stores=list(flow.verify_stores(request.member)), error=exc)
    voucher = redemption.voucher
    units_left = voucher.order.vouchers.filter(status="valid").count() if voucher.order_id else 0
    stores = list(flow.verify_stores(request.member))
    context = {
        "redemption": redemption,
        "voucher": voucher,
        "units_left": units_left,
        "can_undo": flow.may_undo(redemption, request.member),
        "form": VerifyForm(stores=flow.verify_stores(request.member), initial={"store": redemption.store}),
        "stores": stores,
        "chosen_store": _chosen_store(request, stores),
    }
    return render(request, "orders/console/verify_done.html", context)


# --- history, export, undo ------------------------------------------------------------------------


def _history(request):
    """(form, filtered redemptions); an invalid filter shows its errors and no rows."""
    form = HistoryForm(request.GET or None, stores=flow.verify_stores(request.member), merchant=request.merchant)
    if form.is_bound and not form.is_valid():
        return form, flow.redemptions_for_member(request.member).none()
    data = form.cleaned_data if form.is_bound else {}
    redemptions = flow.redemptions_for_member(
        request.member,
        store=data.get("store"),
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        status=data.get("status") or None,
        redeemed_by=data.get("member"),
    )
    return form, redemptions


@member_required(EVERYONE)
def redemptions(request):
    form, rows = _history(request)
    page = Paginator(rows, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for redemption in page:
        redemption.can_undo = flow.may_undo(redemption, request.member, now=now)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "orders/console/redemptions.html", context, status=400 if form.errors else 200)


class _Echo:
    """A file-like object whose write() hands the line back, for a streamed CSV."""

    def write(self, value):
        return value


CSV_HEADER = [
    "redeemed_at",
    "store",
    "code",
    "kind",
    "title",
    "amount",
    "order",
    "redeemed_by",
    "ip",
    "device",
    "status",
    "undone_at",
    "undone_by",
    "undo_reason",
    "settled_at",
]


def _csv_cell(value):
    """Text a spreadsheet will not run: a cell starting with = + - @ (a device name or a reason
    typed by anyone) would otherwise be taken for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _local_time(moment, store):
    return f"{moment.astimezone(store.tzinfo):%Y-%m-%d %H:%M:%S}" if moment else ""


def _csv_rows(redemptions):
    yield CSV_HEADER
    for r in redemptions.iterator(chunk_size=500):
        voucher = r.voucher
        yield [
            _csv_cell(v)
            for v in (
                _local_time(r.redeemed_at, r.store),
                r.store.name,
                voucher.code_display,
                voucher.kind,
                voucher.title,
                voucher.amount,
                voucher.order.number if voucher.order_id else "",
                r.redeemed_by.shown_name,
                r.ip or "",
                r.device,
                flow.HistoryStatus.UNDONE if r.undone_at else flow.HistoryStatus.LIVE,
                _local_time(r.undone_at, r.store),
                r.undone_by.shown_name if r.undone_by_id else "",
                r.undo_reason,
                _local_time(r.settled_at, r.store),
            )
        ]


@member_required(EVERYONE)
def redemptions_export(request):
    form, rows = _history(request)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _csv_rows(rows)), content_type="text/csv; charset=utf-8"
    )
    filename = f"redemptions-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if form.errors:
        response.status_code = 400
    return response


@member_required(EVERYONE)
def redemption_undo(request, redemption_id):
    try:
        redemption = flow.redemption_for_member(request.member, redemption_id)
    except DomainError as exc:
        return render(request, "console/refused.html", {"message": exc.message}, status=exc.status_code)
    form = UndoForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                flow.redemption_undo(
                    redemption=redemption,
                    member=request.member,
                    reason=form.cleaned_data["reason"],
                    ip=client_ip(request),
                    device=_device(request),
                )
            except DomainError as exc:
                form.add_error("reason" if exc.field == "reason" else None, exc.message)
                status = exc.status_code
            else:
                messages.success(
                    request,
                    _("Redemption of %(code)s undone: the voucher can be used again.")
                    % {"code": redemption.voucher.code_display},
                )
                return redirect("console:redemptions")
    context = {"redemption": redemption, "form": form, "can_undo": flow.may_undo(redemption, request.member)}
    return render(request, "orders/console/redemptions_undo.html", context, status=status)
