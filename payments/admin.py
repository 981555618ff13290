"""Platform finance: payments, refunds (with a finance refund and a retry), the ledger.
Money fields are read-only everywhere; money moves only through payments.services."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from o2o.errors import DomainError

from . import services
from .gateways.base import GatewayError
from .models import GatewayEvent, LedgerEntry, LedgerLine, Payment, Refund


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ("created_at", "amount", "reason", "status", "attempts", "last_error", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class FinanceRefundForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount to refund"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    note = forms.CharField(label=_("Why"), max_length=200)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("reference", "order", "amount", "status", "gateway", "created_at", "succeeded_at")
    list_filter = ("status", "gateway")
    search_fields = ("reference", "order__number", "gateway_transaction")
    date_hierarchy = "created_at"
    list_select_related = ("order",)
    inlines = (RefundInline,)
    actions = ("refund_by_finance",)

    @admin.action(description=_("Refund part of the payment (finance)…"))
    def refund_by_finance(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Choose one payment at a time."), messages.ERROR)
            return None
        payment = queryset.select_related("order").get()
        form = FinanceRefundForm(request.POST if request.POST.get("confirm") else None)
        if form.is_bound and form.is_valid():
            try:
                refund = services.refund_by_finance(
                    order=payment.order,
                    amount=form.cleaned_data["amount"],
                    note=form.cleaned_data["note"],
                    actor=request.user,
                )
            except (DomainError, InvalidOperation) as exc:
                self.message_user(request, getattr(exc, "message", str(exc)), messages.ERROR)
                return None
            self.log_change(request, payment, f"finance refund {refund.amount}: {form.cleaned_data['note']}")
            self.message_user(request, _("Refund of ¥%(amount)s recorded and sent.") % {"amount": refund.amount})
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund part of a payment"),
            "opts": self.model._meta,
            "payment": payment,
            "left": services.refundable_amount(payment),
            "form": form,
            "action": "refund_by_finance",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/payments/finance_refund.html", context)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("pk", "order", "amount", "reason", "status", "attempts", "last_error", "created_at")
    list_filter = ("status", "reason")
    search_fields = ("order__number", "payment__reference", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("order",)
    actions = ("retry",)

    @admin.action(description=_("Send again to the gateway (safe: the idempotency key prevents doubles)"))
    def retry(self, request, queryset):
        sent = 0
        for refund in queryset.exclude(status=Refund.Status.SUCCEEDED):
            try:
                services.refund_execute(refund_id=refund.pk)
                sent += 1
            except GatewayError as exc:  # shown; the refund stays pending for the next try
                self.message_user(request, f"#{refund.pk}: {exc}", messages.WARNING)
        self.message_user(request, _("%(n)d refund(s) confirmed by the gateway.") % {"n": sent})


class LedgerLineInline(admin.TabularInline):
    model = LedgerLine
    extra = 0
    can_delete = False
    fields = ("account", "merchant", "amount")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("key", "kind", "order", "memo", "created_at")
    list_filter = ("kind",)
    search_fields = ("key", "order__number", "memo")
    date_hierarchy = "created_at"
    inlines = (LedgerLineInline,)


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdmin):
    list_display = ("gateway", "event_id", "kind", "payment", "received_at")
    list_filter = ("gateway", "kind")
    search_fields = ("event_id", "payment__reference")
