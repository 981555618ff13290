"""Forms of the merchant application and the merchant console.

Forms validate and shape input; every write goes through merchants.services. A service's
domain error or validation error is put back on the form (`add_service_error`), so the page
shows it next to the field at fault instead of failing.
"""

import datetime as dt
import itertools
import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import Case, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import phone_validator

from .models import Category, City, Merchant, Store

IMAGE_ACCEPT = "image/jpeg,image/png,image/webp"
WEEKDAY_NAMES = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))

# Landlines are written with area codes and extensions: "021-6234 5678", "+86 (21) 62345678".
store_phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ()\-]{4,19}$", _("Enter a phone number: digits, spaces, brackets or dashes.")
)


class ServiceErrorsMixin:
    """Show a service's refusal on the form: on the field it names, else above the form."""

    def add_service_error(self, exc, *, field=None):
        if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                self.add_error(name if name in self.fields else None, errors)
            return
        message = getattr(exc, "message", None) or exc
        target = field or getattr(exc, "field", None)
        self.add_error(target if target in self.fields else None, message)


def categories_grouped():
    """Every category, each sub-category right after its parent."""
    return (
        Category.objects.select_related("parent")
        .annotate(
            group_position=Coalesce("parent__position", "position"),
            group_id=Coalesce("parent_id", "id"),
            is_sub=Case(When(parent__isnull=True, then=Value(0)), default=Value(1)),
        )
        .order_by("group_position", "group_id", "is_sub", "position", "slug")
    )


class CategoryChoiceField(forms.ModelChoiceField):
    """A top category or a sub-category, the latter labelled "Parent › Child"."""

    def __init__(self, **kwargs):
        super().__init__(queryset=categories_grouped(), **kwargs)

    def label_from_instance(self, obj):
        return f"{obj.parent.label} › {obj.label}" if obj.parent_id else obj.label


class MerchantApplyForm(ServiceErrorsMixin, forms.Form):
    business_name = forms.CharField(label=_("Business name"), max_length=100)
    category = CategoryChoiceField(label=_("Category"), empty_label=_("Choose what you do"))
    contact_name = forms.CharField(label=_("Contact name"), max_length=60)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=16, validators=[phone_validator])
    # A FileField, not an ImageField: the image pipeline in the service decides what is an
    # acceptable image, and its message ("larger than 8 MB", "JPEG, PNG or WebP") is the one shown.
    licence_image = forms.FileField(
        label=_("Business licence"),
        help_text=_("A photo or scan of the licence: JPEG, PNG or WebP, up to 8 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
    )

    def clean_business_name(self):
        return self.cleaned_data["business_name"].strip()

    def clean_contact_name(self):
        return self.cleaned_data["contact_name"].strip()


class MerchantProfileForm(ServiceErrorsMixin, forms.ModelForm):
    """The merchant's public profile and contacts; the settlement account only for owners."""

    FINANCE_FIELDS = ("settlement_account_name", "settlement_account_number")

    class Meta:
        model = Merchant
        fields = (
            "name",
            "description",
            "contact_name",
            "contact_phone",
            "settlement_account_name",
            "settlement_account_number",
        )
        labels = {
            "settlement_account_name": _("Settlement account holder"),
            "settlement_account_number": _("Settlement account number"),
        }
        help_texts = {"settlement_account_number": _("The bank account that daily settlements are paid into.")}

    def __init__(self, *args, include_finances, **kwargs):
        super().__init__(*args, **kwargs)
        if not include_finances:
            for name in self.FINANCE_FIELDS:
                del self.fields[name]
        self.fields["contact_phone"].validators.append(phone_validator)

    def clean_settlement_account_number(self):
        number = re.sub(r"[\s-]", "", self.cleaned_data["settlement_account_number"])
        if number and not number.isdigit():
            raise ValidationError(_("An account number has digits only."))
        return number


class StoreForm(ServiceErrorsMixin, forms.ModelForm):
    category = CategoryChoiceField(label=_("Category"))

    class Meta:
        model = Store
        fields = (
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
        widgets = {
            "latitude": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            "longitude": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            "phone": forms.TextInput(attrs={"type": "tel"}),
            "description": forms.Textarea(attrs={"rows": 4}),
            "avg_price": forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
        }
        help_texts = {
            "is_published": _("Published stores can be found by consumers while your merchant is approved."),
            "latitude": _("Decimal degrees, e.g. 31.2304."),
            "longitude": _("Decimal degrees, e.g. 121.4737."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["city"].queryset = City.objects.filter(is_active=True)
        self.fields["city"].empty_label = _("Choose a city")
        self.fields["city"].label_from_instance = lambda city: city.label
        self.fields["phone"].validators.append(store_phone_validator)

    def clean_tags(self):
        # Accept Chinese commas and stray spaces; store "a, b, c" without duplicates.
        raw = re.split(r"[,，、;；]", self.cleaned_data["tags"])
        tags = list(dict.fromkeys(tag.strip() for tag in raw if tag.strip()))
        text = ", ".join(tags)
        if len(text) > Store._meta.get_field("tags").max_length:
            raise ValidationError(_("Too many tags: keep them under 200 characters."))
        return text


# --- Weekly hours ---------------------------------------------------------------------------

_SPAN_SEPARATORS = r"[,，;；、]"
_DASHES = r"\s*(?:-|–|—|~|～|至|to)\s*"
_TIME = re.compile(r"^(\d{1,2})[:：.](\d{2})$")
MAX_SPANS_PER_DAY = 6


def _parse_time(text, *, closing):
    match = _TIME.match(text.strip())
    if not match:
        raise ValidationError(
            _("“%(value)s” is not a time; write hours and minutes like 09:30."), params={"value": text.strip()}
        )
    hour, minute = int(match[1]), int(match[2])
    # "24:00" is how people write midnight at the end of a day; stored as 00:00 (overnight).
    if closing and (hour, minute) == (24, 0):
        return dt.time(0)
    if hour > 23 or minute > 59:
        raise ValidationError(
            _("“%(value)s” is not a time of day; use 00:00 to 23:59."), params={"value": text.strip()}
        )
    return dt.time(hour, minute)


def parse_day_hours(text):
    """Parse "10:00-14:00, 17:00-02:00" into sorted [(opens, closes)]; empty text is a closed day.

    A span that closes at or before it opens runs past midnight; it must be the day's last.
    """
    text = (text or "").strip()
    if not text:
        return []
    spans = []
    for part in re.split(_SPAN_SEPARATORS, text):
        part = part.strip()
        if not part:
            continue
        pieces = re.split(_DASHES, part)
        if len(pieces) != 2:
            raise ValidationError(
                _("“%(value)s” is not an opening span; write it like 10:00-22:00."), params={"value": part}
            )
        opens, closes = _parse_time(pieces[0], closing=False), _parse_time(pieces[1], closing=True)
        if opens == closes and opens != dt.time(0):
            raise ValidationError(
                _("%(span)s opens and closes at the same time; for a whole day write 00:00-24:00."),
                params={"span": part},
            )
        spans.append((opens, closes))
    if len(spans) > MAX_SPANS_PER_DAY:
        raise ValidationError(_("At most %(n)d opening spans a day."), params={"n": MAX_SPANS_PER_DAY})
    spans.sort()
    for (opens, closes), (next_opens, next_closes) in itertools.pairwise(spans):
        if closes <= opens:
            raise ValidationError(
                _("%(first)s runs past midnight, so it overlaps %(second)s; a late-night span must be the last."),
                params={"first": format_span(opens, closes), "second": format_span(next_opens, next_closes)},
            )
        if closes > next_opens:
            raise ValidationError(
                _("%(first)s and %(second)s overlap."),
                params={"first": format_span(opens, closes), "second": format_span(next_opens, next_closes)},
            )
    return spans


def format_span(opens, closes):
    closing = "24:00" if closes == dt.time(0) else f"{closes:%H:%M}"
    return f"{opens:%H:%M}-{closing}"


def format_day_hours(spans):
    return ", ".join(format_span(opens, closes) for opens, closes in spans)


class StoreHoursForm(forms.Form):
    """One text box per weekday; cleaned_data["hours"] maps weekday (0 = Monday) to spans."""

    def __init__(self, *args, store=None, **kwargs):
        super().__init__(*args, **kwargs)
        current = {day: [] for day in range(7)}
        if store is not None:
            for row in store.hours.all():
                current[row.weekday].append((row.opens, row.closes))
        for day, label in enumerate(WEEKDAY_NAMES):
            self.fields[f"day_{day}"] = forms.CharField(
                label=label,
                required=False,
                max_length=120,
                initial=format_day_hours(sorted(current[day])),
                widget=forms.TextInput(attrs={"placeholder": _("closed"), "autocomplete": "off"}),
            )

    def clean(self):
        data = super().clean()
        hours = {}
        for day in range(7):
            name = f"day_{day}"
            if name not in data:
                continue  # already has an error from the field itself
            try:
                hours[day] = parse_day_hours(data[name])
            except ValidationError as exc:
                self.add_error(name, exc)
        if self.errors:
            return data
        # An overnight span eats into the next morning: Friday 18:00-02:00 and Saturday 01:00-...
        for day, spans in hours.items():
            if not spans or spans[-1][1] > spans[-1][0]:
                continue
            following = (day + 1) % 7
            if hours[following] and hours[following][0][0] < spans[-1][1]:
                self.add_error(
                    f"day_{following}",
                    _("Starts before %(day)s's %(span)s has closed.")
                    % {"day": WEEKDAY_NAMES[day], "span": format_span(*spans[-1])},
                )
        data["hours"] = hours
        return data


class ClosedDateForm(ServiceErrorsMixin, forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(
        label=_("Note"), required=False, max_length=100, help_text=_("Shown to consumers, e.g. Spring Festival.")
    )

    def __init__(self, *args, store, **kwargs):
        super().__init__(*args, **kwargs)
        self.store = store

    def clean_date(self):
        date = self.cleaned_data["date"]
        if date < timezone.now().astimezone(self.store.tzinfo).date():
            raise ValidationError(_("Pick today or a later date."))
        return date


class StorePhotoForm(ServiceErrorsMixin, forms.Form):
    image = forms.FileField(
        label=_("Photo"),
        help_text=_("JPEG, PNG or WebP, up to 8 MB. Location and camera details are removed."),
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
    )
    caption = forms.CharField(label=_("Caption"), required=False, max_length=100)
    make_cover = forms.BooleanField(label=_("Use as the cover photo"), required=False)


class ReasonForm(forms.Form):
    """The reason an operator gives in admin when rejecting or suspending."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Shown to the merchant."),
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Give a reason."))
        return reason
