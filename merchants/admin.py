"""Django admin for platform operations: applications, merchants, stores and reference data.

State changes (approve, reject, suspend, reinstate) are admin actions that call
merchants.services, never a status field saved from a form: the services lock, check the
transition and write the AuditEvent; the admin adds its own LogEntry for each object.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from o2o.errors import DomainError

from . import services
from .forms import WEEKDAY_NAMES, ReasonForm
from .models import (
    Category,
    City,
    Merchant,
    MerchantApplication,
    MerchantMember,
    Store,
    StoreHours,
    StorePhoto,
)


def _image_preview(field_file, *, height):
    if not field_file:
        return "—"
    return format_html(
        '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="" loading="lazy" '
        'style="max-height:{}px;max-width:100%;border-radius:4px"></a>',
        field_file.url,
        field_file.url,
        height,
    )


def _run_each(modeladmin, request, queryset, change, *, done_message, log_message):
    """Call `change(obj)` for every selected object; report how many worked and why others did not."""
    done, refused = 0, []
    for obj in queryset:
        try:
            if change(obj) is False:
                continue
        except DomainError as exc:
            refused.append(f"{obj}: {exc.message}")
            continue
        modeladmin.log_change(request, obj, log_message)
        done += 1
    if done:
        modeladmin.message_user(request, done_message % {"count": done}, messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)
    if not done and not refused:
        modeladmin.message_user(request, gettext("Nothing to change."), messages.INFO)


def _ask_reason(modeladmin, request, queryset, *, title, question, submit_label, apply):
    """An intermediate page asking for a reason, then `apply(queryset, reason)`.

    The page posts back to the changelist with the same action and selection (as Django's own
    delete confirmation does); "confirm" tells the second post from the first.
    """
    if "confirm" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            apply(queryset, form.cleaned_data["reason"])
            return None  # back to the changelist, with the messages
    else:
        form = ReasonForm()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "submit_label": submit_label,
        "objects": queryset,
        "form": form,
        "opts": modeladmin.model._meta,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/merchants/action_reason.html", context)


# --- Applications ------------------------------------------------------------------------------


@admin.register(MerchantApplication)
class MerchantApplicationAdmin(admin.ModelAdmin):
    list_display = ("business_name", "applicant", "category", "status", "created_at", "licence_thumbnail")
    list_filter = ("status", ("category", admin.RelatedOnlyFieldListFilter))
    search_fields = ("business_name", "applicant__username", "applicant__display_name", "applicant__phone")
    search_help_text = _("Business name, or the applicant's username, name or phone.")
    date_hierarchy = "created_at"
    list_select_related = ("applicant", "category")
    actions = ("approve_applications", "reject_applications")
    fields = (
        "business_name",
        "category",
        "contact_name",
        "contact_phone",
        "applicant",
        "merchant",
        "licence_large",
        "status",
        "decision_reason",
        "reviewed_by",
        "reviewed_at",
        "created_at",
    )
    readonly_fields = fields
    change_form_template = "admin/merchants/merchantapplication/change_form.html"

    @admin.display(description=_("licence"))
    def licence_thumbnail(self, application):
        return _image_preview(application.licence_image, height=48)

    @admin.display(description=_("business licence"))
    def licence_large(self, application):
        return _image_preview(application.licence_image, height=480)

    def has_add_permission(self, request):
        return False  # applications come from applicants

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what was decided, and why, stays

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Every field is read-only: decisions are the actions, so there is nothing to save.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Approve selected applications"), permissions=["change"])
    def approve_applications(self, request, queryset):
        def approve(application):
            if application.status == MerchantApplication.Status.APPROVED:
                return False  # approving twice is harmless and logs nothing
            services.merchant_application_approve(application=application, acting_user=request.user)
            return True

        _run_each(
            self,
            request,
            queryset.select_related("merchant"),
            approve,
            done_message=gettext("Approved %(count)d application(s); the applicants now own their merchants."),
            log_message=gettext("Approved the application."),
        )

    @admin.action(description=_("Reject selected applications with a reason…"), permissions=["change"])
    def reject_applications(self, request, queryset):
        def apply(selected, reason):
            _run_each(
                self,
                request,
                selected,
                lambda app: services.merchant_application_reject(
                    application=app, reason=reason, acting_user=request.user
                ),
                done_message=gettext("Rejected %(count)d application(s)."),
                log_message=gettext("Rejected the application: %(reason)s") % {"reason": reason},
            )

        return _ask_reason(
            self,
            request,
            queryset,
            title=gettext("Reject applications"),
            question=gettext("The applicants will see this reason and may apply again."),
            submit_label=gettext("Reject"),
            apply=apply,
        )


# --- Merchants -------------------------------------------------------------------------------


class MerchantMemberInline(admin.TabularInline):
    """Who works for the merchant. Read-only here: staff are managed by the merchant's owner."""

    model = MerchantMember
    fields = ("user", "role", "store_names", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("stores"))
    def store_names(self, member):
        names = [store.name for store in member.stores.all()]
        return ", ".join(names) if names else gettext("all stores")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "status", "commission_rate", "effective_rate", "store_count", "created_at")
    list_filter = ("status", ("category", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "contact_name", "contact_phone", "members__user__username")
    search_help_text = _("Name, contact, or a staff member's username.")
    list_select_related = ("category__parent",)
    date_hierarchy = "created_at"
    actions = ("suspend_merchants", "reinstate_merchants")
    inlines = (MerchantMemberInline,)
    fieldsets = (
        (None, {"fields": ("name", "category", "status", "status_reason", "approved_at", "created_at")}),
        (_("Profile"), {"fields": ("description", "contact_name", "contact_phone")}),
        (
            _("Finance"),
            {"fields": ("commission_rate", "effective_rate", "settlement_account_name", "settlement_account_number")},
        ),
    )
    # Status changes are the suspend/reinstate actions and the application decisions.
    readonly_fields = ("category", "status", "status_reason", "approved_at", "created_at", "effective_rate")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(store_total=Count("stores", distinct=True))

    @admin.display(description=_("rate in effect"))
    def effective_rate(self, merchant):
        return merchant.effective_commission_rate

    @admin.display(description=_("stores"), ordering="store_total")
    def store_count(self, merchant):
        url = reverse("admin:merchants_store_changelist") + f"?merchant__id__exact={merchant.pk}"
        return format_html('<a href="{}">{}</a>', url, merchant.store_total)

    def has_add_permission(self, request):
        return False  # merchants are created by applying

    def has_delete_permission(self, request, obj=None):
        return False  # suspend instead: orders, statements and reviews refer to the merchant

    def save_model(self, request, obj, form, change):
        """Route the form's changes through the services, which audit them."""
        profile = {name: form.cleaned_data[name] for name in form.changed_data if name in services.PROFILE_FIELDS}
        if profile:
            services.merchant_update_profile(merchant=obj, acting_user=request.user, **profile)
        if "commission_rate" in form.changed_data:
            services.merchant_commission_rate_set(
                merchant=obj, rate=form.cleaned_data["commission_rate"], acting_user=request.user
            )

    @admin.action(description=_("Suspend selected merchants with a reason…"), permissions=["change"])
    def suspend_merchants(self, request, queryset):
        def apply(selected, reason):
            def suspend(merchant):
                if merchant.status == Merchant.Status.SUSPENDED:
                    return False
                services.merchant_suspend(merchant=merchant, reason=reason, acting_user=request.user)
                return True

            _run_each(
                self,
                request,
                selected,
                suspend,
                done_message=gettext("Suspended %(count)d merchant(s); their stores are hidden from consumers."),
                log_message=gettext("Suspended: %(reason)s") % {"reason": reason},
            )

        return _ask_reason(
            self,
            request,
            queryset,
            title=gettext("Suspend merchants"),
            question=gettext("Their stores disappear from search at once. The merchants see this reason."),
            submit_label=gettext("Suspend"),
            apply=apply,
        )

    @admin.action(description=_("Reinstate selected merchants"), permissions=["change"])
    def reinstate_merchants(self, request, queryset):
        def reinstate(merchant):
            if merchant.status == Merchant.Status.APPROVED:
                return False
            services.merchant_reinstate(merchant=merchant, acting_user=request.user)
            return True

        _run_each(
            self,
            request,
            queryset,
            reinstate,
            done_message=gettext("Reinstated %(count)d merchant(s)."),
            log_message=gettext("Reinstated."),
        )


# --- Reference data ------------------------------------------------------------------------------


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    list_display = ("name", "name_en", "slug", "timezone", "position", "is_active")
    list_editable = ("position", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "name_en", "slug")
    prepopulated_fields = {"slug": ("name_en",)}


class CategoryLevelFilter(admin.SimpleListFilter):
    title = _("level")
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return (("top", _("Top categories")), ("sub", _("Sub-categories")))

    def queryset(self, request, queryset):
        if self.value() == "top":
            return queryset.filter(parent__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent__isnull=False)
        return queryset


class CategoryAdminForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ("name", "name_en", "slug", "parent", "icon", "position", "review_aspects", "commission_rate")
        help_texts = {"review_aspects": _('A JSON list of sub-scores, e.g. ["taste", "environment", "service"].')}

    def clean_review_aspects(self):
        aspects = self.cleaned_data["review_aspects"]
        if not isinstance(aspects, list) or not all(isinstance(a, str) and a.strip() for a in aspects):
            raise forms.ValidationError(_('Give a list of names, e.g. ["taste", "service"].'))
        return [a.strip() for a in aspects]

    def clean(self):
        data = super().clean()
        parent = data.get("parent")
        # Two levels only: a sub-category cannot have children of its own.
        if parent is not None and parent.parent_id is not None:
            self.add_error("parent", _("Choose a top category: categories have two levels."))
        if parent is not None and self.instance.pk and self.instance.children.exists():
            self.add_error("parent", _("This category has sub-categories, so it must stay a top category."))
        return data


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryAdminForm
    list_display = ("tree_label", "name_en", "slug", "icon", "position", "commission_rate", "review_aspects")
    list_editable = ("position",)
    list_filter = (CategoryLevelFilter, ("parent", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("parent",)
    search_fields = ("name", "name_en", "slug")
    prepopulated_fields = {"slug": ("name_en",)}
    fields = ("name", "name_en", "slug", "parent", "icon", "position", "review_aspects", "commission_rate")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            kwargs["queryset"] = Category.objects.filter(parent__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("name"), ordering="name")
    def tree_label(self, category):
        label = f"{category.icon} {category.name}".strip()
        return f"{category.parent.name} › {label}" if category.parent_id else label


# --- Stores ----------------------------------------------------------------------------------------


# Denormalised figures are kept by the review and order services and their reconciliation.
STORE_FIGURES = ("rating", "rating_mean", "review_count", "sales_count", "has_deals", "created_at", "updated_at")


class StoreHoursInline(admin.TabularInline):
    """Shown for reference; the merchant edits hours in the console, where they are checked."""

    model = StoreHours
    fields = ("day", "opens", "closes")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("weekday"), ordering="weekday")
    def day(self, hours):
        return WEEKDAY_NAMES[hours.weekday]

    def has_add_permission(self, request, obj=None):
        return False


class StorePhotoInline(admin.TabularInline):
    """Photos can be removed here (moderation); the service keeps a cover and deletes the files."""

    model = StorePhoto
    fields = ("preview", "caption", "is_cover", "width", "height", "created_at")
    readonly_fields = fields
    extra = 0

    @admin.display(description=_("photo"))
    def preview(self, photo):
        return _image_preview(photo.thumbnail or photo.image, height=72)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "merchant",
        "city",
        "category",
        "is_published",
        "merchant_status",
        "rating",
        "review_count",
        "sales_count",
    )
    list_filter = (
        "is_published",
        "merchant__status",
        "has_deals",
        ("city", admin.RelatedOnlyFieldListFilter),
        ("category", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("name", "merchant__name", "address", "phone")
    list_select_related = ("merchant", "city", "category")
    autocomplete_fields = ("merchant",)
    actions = ("publish_stores", "unpublish_stores")
    inlines = (StoreHoursInline, StorePhotoInline)
    fieldsets = (
        (None, {"fields": ("merchant", "name", "city", "category", "is_published")}),
        (_("Location"), {"fields": ("address", "latitude", "longitude", "phone")}),
        (_("Listing"), {"fields": ("description", "tags", "avg_price")}),
        (
            _("Figures (kept by the platform)"),
            {
                "fields": (
                    "rating",
                    "rating_mean",
                    "review_count",
                    "sales_count",
                    "has_deals",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    readonly_fields = STORE_FIGURES

    def has_delete_permission(self, request, obj=None):
        return False  # unpublish instead: orders, vouchers and reviews refer to the store

    def get_readonly_fields(self, request, obj=None):
        # A store never moves to another merchant: its orders and statements belong to the first.
        return (*STORE_FIGURES, "merchant") if obj is not None else STORE_FIGURES

    @admin.display(description=_("merchant status"), ordering="merchant__status")
    def merchant_status(self, store):
        return store.merchant.get_status_display()

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.STORE_FIELDS if name in form.cleaned_data}
        services.store_save(merchant=obj.merchant, store=obj, acting_user=request.user, **fields)

    def save_formset(self, request, form, formset, change):
        if formset.model is StorePhoto:
            formset.save(commit=False)  # collects deleted_objects without deleting
            for photo in formset.deleted_objects:
                services.store_photo_delete(photo=photo, acting_user=request.user)
            return
        super().save_formset(request, form, formset, change)

    def _set_published(self, request, queryset, published, *, done_message, log_message):
        def change(store):
            if store.is_published == published:
                return False
            services.store_save(merchant=store.merchant, store=store, acting_user=request.user, is_published=published)
            return True

        _run_each(
            self,
            request,
            queryset.select_related("merchant"),
            change,
            done_message=done_message,
            log_message=log_message,
        )

    @admin.action(description=_("Publish selected stores"), permissions=["change"])
    def publish_stores(self, request, queryset):
        self._set_published(
            request,
            queryset,
            True,
            done_message=gettext("Published %(count)d store(s)."),
            log_message=gettext("Published."),
        )

    @admin.action(description=_("Unpublish selected stores"), permissions=["change"])
    def unpublish_stores(self, request, queryset):
        self._set_published(
            request,
            queryset,
            False,
            done_message=gettext("Unpublished %(count)d store(s)."),
            log_message=gettext("Unpublished."),
        )
