from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q


class UsernameEmailPhoneBackend(ModelBackend):
    """Sign in with a username, an e-mail address or a phone number."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        User = get_user_model()
        login = username.strip()
        match = Q(username=login)
        if "@" in login:
            match |= Q(email__iexact=login)
        elif login.lstrip("+").isdigit():
            match |= Q(phone=login)
        user = User.objects.filter(match).order_by("pk").first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
