"""Account writes and the sign-in guard shared by the pages and the API."""

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from o2o import ratelimit
from o2o.errors import Busy


def _normalise(username, email, phone):
    return username.strip(), email.strip().lower(), phone.strip()


@transaction.atomic
def user_register(*, username, password, email="", phone="", display_name="", language=None):
    """Create a consumer account; raise ValidationError with field errors, creating nothing."""
    User = get_user_model()
    username, email, phone = _normalise(username, email, phone)
    user = User(username=username, email=email, phone=phone, display_name=display_name.strip())
    if language:
        user.language = language
    errors = {}
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if email and User.objects.filter(email__iexact=email).exists():
        errors.setdefault("email", []).append(_("An account with this e-mail already exists."))
    if phone and User.objects.filter(phone=phone).exists():
        errors.setdefault("phone", []).append(_("An account with this phone number already exists."))
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        errors.setdefault("password", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.save()
    return user


def _sign_in_scopes(login, ip):
    return (("signin-user", login.strip().lower()), ("signin-ip", ip))


def sign_in_guard(*, login, ip):
    """Refuse a sign-in attempt when this account or address failed too often lately."""
    window = settings.SIGN_IN_WINDOW_SECONDS
    for scope, ident in _sign_in_scopes(login, ip):
        limit = settings.SIGN_IN_MAX_FAILURES * (1 if scope == "signin-user" else 4)
        state = ratelimit.peek(scope, ident, limit=limit, window_seconds=window)
        if state.count >= limit:
            minutes = max(1, (state.retry_after + 59) // 60)
            raise Busy(
                _("Too many failed sign-ins. Try again in %(minutes)d minutes.") % {"minutes": minutes},
                retry_after=state.retry_after,
            )


def sign_in_failed(*, login, ip):
    window = settings.SIGN_IN_WINDOW_SECONDS
    for scope, ident in _sign_in_scopes(login, ip):
        ratelimit.hit(scope, ident, limit=settings.SIGN_IN_MAX_FAILURES, window_seconds=window)


def sign_up_guard(*, ip):
    state = ratelimit.hit("signup-ip", ip, limit=settings.SIGN_UP_MAX_PER_IP, window_seconds=3600)
    if state.exceeded:
        raise Busy(_("Too many sign-ups from this address. Try again later."), retry_after=state.retry_after)
