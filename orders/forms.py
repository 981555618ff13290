from django import forms
from django.utils.translation import gettext_lazy as _


class DealCheckoutForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100, initial=1)


class BookingCheckoutForm(forms.Form):
    start = forms.DateTimeField(widget=forms.HiddenInput)
    party_size = forms.IntegerField(label=_("Party size"), min_value=1, max_value=1000, initial=2)
    note = forms.CharField(label=_("Note for the store"), max_length=200, required=False)
