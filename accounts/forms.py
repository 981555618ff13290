from django import forms
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from o2o.errors import Busy

from . import services


class SignUpForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)
    email = forms.EmailField(label=_("E-mail (optional)"), required=False)
    phone = forms.CharField(label=_("Phone (optional)"), max_length=16, required=False)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput(render_value=False))
    password_again = forms.CharField(label=_("Password again"), widget=forms.PasswordInput(render_value=False))

    def __init__(self, *args, ip, language=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.ip = ip
        self.language = language
        self.user = None

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password_again") and data["password"] != data["password_again"]:
            self.add_error("password_again", _("The two passwords differ."))
        if self.errors:
            return data
        try:
            services.sign_up_guard(ip=self.ip)
            self.user = services.user_register(
                username=data["username"],
                password=data["password"],
                email=data.get("email", ""),
                phone=data.get("phone", ""),
                display_name=data.get("display_name", ""),
                language=self.language,
            )
        except Busy as exc:
            raise ValidationError(exc.message) from exc
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return data


class SignInForm(forms.Form):
    login = forms.CharField(label=_("Username, e-mail or phone"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = None

    def clean(self):
        data = super().clean()
        login, password = data.get("login"), data.get("password")
        if not login or not password:
            return data
        ip = services.ratelimit.client_ip(self.request)
        try:
            services.sign_in_guard(login=login, ip=ip)
        except Busy as exc:
            raise ValidationError(exc.message, code="throttled") from exc
        self.user = authenticate(self.request, username=login, password=password)
        if self.user is None:
            services.sign_in_failed(login=login, ip=ip)
            raise ValidationError(_("Wrong username or password."), code="invalid_login")
        return data
