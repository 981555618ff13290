"""Forms of the catalogue editors in the merchant console: services, schedules and deals.

The forms only read and shape input; every rule of the catalogue is checked once, in
merchants.catalogue_services, and its refusals are put back on the form next to the field at
fault (`add_service_error`). The forms are plain `Form`s built from the model fields rather
than `ModelForm`s so that the model's constraints are not checked twice with less friendly
messages ("Constraint … is violated").
"""

import datetime as dt
import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import BaseTemporalField
from django.forms.models import fields_for_model, model_to_dict
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .catalogue_models import CANCELLATION_TERMS, CancellationPolicy
from .catalogue_services import SERVICE_FIELDS
from .models import Deal, Service, ServiceDateRule

WEEKDAY_NAMES = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))
DEFAULT_SLOT_MINUTES = 30
DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


# --- cancellation presets in plain words ---------------------------------------------------


def percent(rate):
    """Decimal("0.10") → "10 %"."""
    return f"{(Decimal(rate) * 100).normalize():f} %"


def policy_terms_text(policy):
    """What a preset means for the consumer, e.g. "free cancellation until 24 h before; later
    10 % of the prepaid amount is kept; no-show 30 %"."""
    free_hours, late_rate, no_show_rate = CANCELLATION_TERMS[CancellationPolicy(policy)]
    if free_hours:
        free = gettext("free cancellation until %(hours)d h before") % {"hours": free_hours}
    else:
        free = gettext("free cancellation until the start")
    if not free_hours:
        late = None  # nothing is "late" when cancelling is free until the start
    elif late_rate:
        late = gettext("later %(rate)s of the prepaid amount is kept") % {"rate": percent(late_rate)}
    else:
        late = gettext("later cancellations are free too")
    if no_show_rate:
        no_show = gettext("no-show %(rate)s") % {"rate": percent(no_show_rate)}
    else:
        no_show = gettext("nothing is kept for a no-show")
    return "; ".join(part for part in (free, late, no_show) if part)


def policy_choices():
    return [(policy.value, f"{policy.label}: {policy_terms_text(policy)}") for policy in CancellationPolicy]


# --- slot rules: "11:00-20:00/30" ----------------------------------------------------------

_RULE_SEPARATORS = re.compile(r"[,，;；、\n]+")
_RULE = re.compile(
    r"^(?P<starts>\S+?)\s*(?:-|–|—|~|～|至|to)\s*(?P<ends>[^/\s]+)\s*(?:/\s*(?P<step>\S+?)\s*(?:min|分钟|分)?)?$",
    re.IGNORECASE,
)
_TIME = re.compile(r"^(\d{1,2})[:：.](\d{2})$")


def _parse_rule_time(text, rule):
    match = _TIME.match(text)
    if not match:
        raise ValidationError(
            _("In “%(rule)s”, “%(value)s” is not a time; write hours and minutes like 09:30."),
            params={"rule": rule, "value": text},
        )
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ValidationError(
            _("In “%(rule)s”, “%(value)s” is not a time of the day; slots start between 00:00 and 23:59."),
            params={"rule": rule, "value": text},
        )
    return dt.time(hour, minute)


def parse_slot_rule(text):
    """Parse one rule "11:00-20:00/30" into (first slot, last slot starts by, minutes apart).

    Without "/minutes" slots are 30 minutes apart. A rule stays within one day: the last slot
    may not be before the first.
    """
    rule = text.strip()
    match = _RULE.match(rule)
    if not match:
        raise ValidationError(
            _(
                "“%(rule)s” is not a slot rule; write the first slot, the last slot and the minutes between "
                "slots, like 11:00-20:00/30."
            ),
            params={"rule": rule},
        )
    starts = _parse_rule_time(match["starts"], rule)
    ends = _parse_rule_time(match["ends"], rule)
    step = DEFAULT_SLOT_MINUTES
    if match["step"] is not None:
        if not match["step"].isdigit() or not 5 <= int(match["step"]) <= 24 * 60:
            raise ValidationError(_("In “%(rule)s”, slots must be 5 to 1440 minutes apart."), params={"rule": rule})
        step = int(match["step"])
    if ends < starts:
        raise ValidationError(
            _(
                "In “%(rule)s” the last slot is before the first. A rule stays within one day: for slots "
                "after midnight add a rule on the next day."
            ),
            params={"rule": rule},
        )
    return starts, ends, step


def parse_slot_rules(text):
    """Parse a day's rules, separated by commas or new lines; empty text is a day without slots."""
    rules, errors = [], []
    for part in _RULE_SEPARATORS.split(text or ""):
        if not part.strip():
            continue
        try:
            rules.append(parse_slot_rule(part))
        except ValidationError as exc:
            errors.extend(exc.error_list)
    if errors:
        raise ValidationError(errors)
    return sorted(set(rules))


def format_slot_rule(starts, ends, slot_minutes):
    return f"{starts:%H:%M}-{ends:%H:%M}/{slot_minutes}"


# --- deal contents: "Beef hotpot for two × 1  168" ---------------------------------------------

_CONTENT_LINE = re.compile(
    r"^(?P<name>.+?)(?:\s*[×xX*]\s*(?P<quantity>\d+))?\s+[¥￥]?\s*(?P<price>\d+(?:\.\d{1,2})?)\s*元?$"
)

_DANGLING_TIMES = re.compile(r"(?:[×*]|\s[xX])$")


def parse_contents(text):
    """One item a line: the name, optionally "× quantity", then the price. → [{name, quantity, price}]."""
    items, errors = [], []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _CONTENT_LINE.match(line)
        # "Soft drink × 2" has no price: the 2 is the quantity, not the price of "Soft drink ×".
        if not match or _DANGLING_TIMES.search(match["name"]):
            errors.append(
                ValidationError(
                    _(
                        "Line %(number)d (“%(line)s”): write the item, “×” and how many, then its price, "
                        "like “Beef hotpot × 1  168”."
                    ),
                    params={"number": number, "line": line},
                )
            )
            continue
        items.append(
            {
                "name": match["name"].strip(),
                "quantity": int(match["quantity"] or 1),
                "price": Decimal(match["price"]),
            }
        )
    if errors:
        raise ValidationError(errors)
    return items


def format_contents(contents):
    lines = []
    for item in contents or []:
        if isinstance(item, dict):
            lines.append(f"{item.get('name', '')} × {item.get('quantity', 1)}  {item.get('price', '')}")
    return "\n".join(lines)


# --- shared form plumbing ------------------------------------------------------------------------


class CatalogueFormMixin:
    """Puts a service's refusal on the form: every field it names, else above the form."""

    # Service field name → form field name, where they differ.
    field_aliases = {}

    def _target(self, name):
        name = self.field_aliases.get(name, name)
        return name if name in self.fields else None

    def add_service_error(self, exc):
        if isinstance(exc, ValidationError):
            if hasattr(exc, "error_dict"):
                for name, errors in exc.error_dict.items():
                    self.add_error(self._target(name), errors)
            else:
                self.add_error(None, exc)
            return
        errors = (exc.extra or {}).get("errors") or {exc.field: [exc.message]}
        for name, messages in errors.items():
            for message in messages:
                self.add_error(self._target(name), message)


class LocalDateTimeField(forms.DateTimeField):
    """A datetime-local input read as a wall-clock time without a zone.

    The form attaches the store's time zone in `clean` (the store may be chosen in the same
    form), so "20:00" means 20:00 where the store is, whatever the platform's zone.
    """

    input_formats = [DATETIME_LOCAL_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]

    def __init__(self, *, tz=None, **kwargs):
        kwargs.setdefault("widget", forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL_FORMAT))
        super().__init__(**kwargs)
        self.tz = tz

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None) if timezone.is_naive(value) else value
        return BaseTemporalField.to_python(self, value)

    def prepare_value(self, value):
        if isinstance(value, dt.datetime) and timezone.is_aware(value) and self.tz is not None:
            return value.astimezone(self.tz).replace(tzinfo=None)
        return value


def _fields_form(model, names, **kwargs):
    """A Form class with the model's fields (labels, help texts, validators), nothing more."""
    return type(f"{model.__name__}FieldsForm", (forms.Form,), fields_for_model(model, fields=names, **kwargs))


def _money_widget(minimum="0"):
    return forms.NumberInput(attrs={"step": "0.01", "min": minimum, "inputmode": "decimal"})


# --- services --------------------------------------------------------------------------------


_ServiceFields = _fields_form(
    Service,
    SERVICE_FIELDS,
    widgets={
        "description": forms.Textarea(attrs={"rows": 3}),
        "price": _money_widget(),
        "deposit": _money_widget(),
        "prepayment": forms.RadioSelect,
        "cancellation_policy": forms.RadioSelect,
    },
    help_texts={
        "price": _("Per booking, or per person when each person takes a place."),
        "deposit": _("Paid online when booking, per place; used only with “Deposit”. The rest is paid in store."),
        "min_notice_minutes": _("How long before a slot consumers can still book it."),
        "is_active": _("Consumers can book only bookable services."),
    },
)


class ServiceForm(CatalogueFormMixin, _ServiceFields):
    """Create (with a store to choose) or edit a bookable service."""

    def __init__(self, *args, instance=None, stores=None, **kwargs):
        if instance is not None:
            kwargs["initial"] = {**model_to_dict(instance, fields=SERVICE_FIELDS), **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["cancellation_policy"].choices = policy_choices()
        self.fields["deposit"].required = False  # only "Deposit" uses it; the service checks it then
        if instance is None:
            self.fields = {
                "store": forms.ModelChoiceField(
                    label=_("Store"),
                    queryset=stores,
                    empty_label=_("Choose a store"),
                    initial=self.initial.get("store"),
                ),
                **self.fields,
            }

    def service_fields(self):
        fields = {name: self.cleaned_data[name] for name in SERVICE_FIELDS if name in self.cleaned_data}
        if fields.get("deposit") is None:
            fields["deposit"] = Decimal("0.00")
        return fields


class ScheduleForm(CatalogueFormMixin, forms.Form):
    """One line per weekday with its slot rules; cleaned_data["rules"] is [(weekday, starts, ends, minutes)]."""

    def __init__(self, *args, service, **kwargs):
        super().__init__(*args, **kwargs)
        current = {day: [] for day in range(7)}
        for rule in service.schedules.all():
            current[rule.weekday].append(format_slot_rule(rule.starts, rule.ends, rule.slot_minutes))
        for day, label in enumerate(WEEKDAY_NAMES):
            self.fields[f"day_{day}"] = forms.CharField(
                label=label,
                required=False,
                max_length=300,
                initial=", ".join(current[day]),
                widget=forms.TextInput(attrs={"placeholder": _("no slots"), "autocomplete": "off"}),
            )

    def clean(self):
        data = super().clean()
        rules = []
        for day in range(7):
            name = f"day_{day}"
            if name not in data:
                continue
            try:
                rules.extend((day, *rule) for rule in parse_slot_rules(data[name]))
            except ValidationError as exc:
                self.add_error(name, exc)
        data["rules"] = rules
        return data


class DateRuleForm(CatalogueFormMixin, forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(
        label=_("Change"),
        choices=[
            (ServiceDateRule.Kind.CLOSED, _("Closed all day")),
            (ServiceDateRule.Kind.EXTRA, _("Extra opening")),
        ],
        initial=ServiceDateRule.Kind.CLOSED,
        widget=forms.RadioSelect,
    )
    times = forms.CharField(
        label=_("Extra slots"),
        required=False,
        max_length=40,
        help_text=_("For an extra opening: first slot, last slot, minutes apart, like 18:00-21:00/30."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "18:00-21:00/30"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == ServiceDateRule.Kind.EXTRA:
            if not data.get("times", "").strip():
                self.add_error("times", _("Give the extra slots, like 18:00-21:00/30."))
            else:
                try:
                    data["starts"], data["ends"], data["slot_minutes"] = parse_slot_rule(data["times"])
                except ValidationError as exc:
                    self.add_error("times", exc)
        return data


# --- deals -----------------------------------------------------------------------------------

DEAL_MODEL_FIELDS = (
    "title",
    "price",
    "original_price",
    "per_user_limit",
    "max_per_order",
    "valid_days",
    "valid_until",
    "weekdays_only",
    "max_per_visit",
    "needs_appointment",
    "usage_notes",
    "is_active",
)

_DealFields = _fields_form(
    Deal,
    DEAL_MODEL_FIELDS,
    widgets={
        "price": _money_widget("0.01"),
        "original_price": _money_widget(),
        "valid_until": forms.DateInput(attrs={"type": "date"}),
        "usage_notes": forms.Textarea(attrs={"rows": 3}),
    },
    help_texts={
        "original_price": _("What the contents cost without the deal; shown struck through."),
        "valid_days": _("Vouchers can be used this many days after purchase."),
        "valid_until": _("Or a last day for every voucher; with both, the earlier one applies."),
        "max_per_visit": _("Empty: no limit."),
        "is_active": _("Consumers can buy it while the sale window is open."),
    },
)


class DealForm(CatalogueFormMixin, _DealFields):
    """Create (with a store to choose) or edit a group-buy deal."""

    field_aliases = {"contents": "contents_text"}

    contents_text = forms.CharField(
        label=_("What is included"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "Beef hotpot for two × 1  168\nSoft drink × 2  16"}),
        help_text=_("One item a line: the name, “×” and how many, then its price, like “Soft drink × 2  16”."),
    )
    unlimited_stock = forms.BooleanField(label=_("Unlimited stock"), required=False)
    stock = forms.IntegerField(
        label=_("Stock"), required=False, min_value=0, help_text=_("Units for sale in total; or tick unlimited.")
    )
    sale_starts = LocalDateTimeField(label=_("Sale starts"), required=False, help_text=_("Empty: now. Store time."))
    sale_ends = LocalDateTimeField(label=_("Sale ends"), required=False, help_text=_("Empty: no end. Store time."))
    appointment_service = forms.ModelChoiceField(
        label=_("Booked through service"),
        queryset=Service.objects.none(),
        required=False,
        empty_label=_("No online booking (by phone)"),
        help_text=_("With “needs an appointment”: the service whose slots voucher holders book."),
    )
    usable_stores = forms.ModelMultipleChoiceField(
        label=_("Usable at"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Stores where vouchers can be redeemed; none ticked: only the selling store."),
    )

    field_order = [
        "store",
        "title",
        "contents_text",
        "price",
        "original_price",
        "unlimited_stock",
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
        "usable_stores",
        "is_active",
    ]

    def __init__(self, *args, instance=None, stores=None, merchant_stores=None, services=None, **kwargs):
        if instance is not None:
            initial = model_to_dict(instance, fields=DEAL_MODEL_FIELDS)
            initial.update(
                contents_text=format_contents(instance.contents),
                unlimited_stock=instance.stock is None,
                stock=instance.stock,
                sale_starts=instance.sale_starts,
                sale_ends=instance.sale_ends,
                appointment_service=instance.appointment_service_id,
                usable_stores=[s.pk for s in instance.usable_stores.all()],
            )
            kwargs["initial"] = {**initial, **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["usable_stores"].queryset = merchant_stores
        self.fields["appointment_service"].queryset = services
        self.fields["appointment_service"].label_from_instance = lambda s: f"{s.store.name} · {s.name}"
        if instance is None:
            self.fields["store"] = forms.ModelChoiceField(
                label=_("Store"), queryset=stores, empty_label=_("Choose a store"), initial=self.initial.get("store")
            )
            self.order_fields(self.field_order)
        else:
            tz = instance.store.tzinfo
            self.fields["sale_starts"].tz = self.fields["sale_ends"].tz = tz

    def clean_contents_text(self):
        return parse_contents(self.cleaned_data["contents_text"])

    def clean(self):
        data = super().clean()
        if data.get("unlimited_stock"):
            data["stock"] = None
        elif data.get("stock") is None and "stock" not in self.errors:
            self.add_error("stock", _("Give the number of units for sale, or tick unlimited."))
        store = self.instance.store if self.instance is not None else data.get("store")
        tz = store.tzinfo if store is not None else timezone.get_current_timezone()
        for name in ("sale_starts", "sale_ends"):
            value = data.get(name)
            if value is not None and timezone.is_naive(value):
                data[name] = value.replace(tzinfo=tz)
        return data

    def deal_fields(self):
        data = self.cleaned_data
        fields = {name: data[name] for name in DEAL_MODEL_FIELDS if name in data}
        fields.update(
            contents=data["contents_text"],
            stock=data["stock"],
            sale_starts=data["sale_starts"],
            sale_ends=data["sale_ends"],
            appointment_service=data["appointment_service"],
        )
        return fields
