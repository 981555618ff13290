from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Category


class ChannelPreferencesForm(forms.Form):
    """E-mail and SMS on or off per category; in-app is not a choice (it always receives)."""

    def __init__(self, *args, current, **kwargs):
        super().__init__(*args, **kwargs)
        for category in Category:
            email_on, sms_on = current[category]
            self.fields[f"{category.value}_email"] = forms.BooleanField(
                label=_("E-mail"), required=False, initial=email_on
            )
            self.fields[f"{category.value}_sms"] = forms.BooleanField(label=_("SMS"), required=False, initial=sms_on)

    def rows(self):
        """(category, e-mail field, SMS field) for the page's table."""
        return [(category, self[f"{category.value}_email"], self[f"{category.value}_sms"]) for category in Category]

    def choices(self):
        return {
            category: (self.cleaned_data[f"{category.value}_email"], self.cleaned_data[f"{category.value}_sms"])
            for category in Category
        }
