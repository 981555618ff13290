from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

phone_validator = RegexValidator(
    r"^\+?[0-9]{6,15}$", _("Enter a phone number of 6 to 15 digits, optionally starting with +.")
)


class User(AbstractUser):
    """A person on the platform: consumer, merchant staff or platform staff.

    Signs in with username, e-mail or phone; e-mail and phone are optional but unique.
    """

    email = models.EmailField(_("e-mail address"), blank=True, default="")
    phone = models.CharField(_("phone"), max_length=16, blank=True, default="", validators=[phone_validator])
    display_name = models.CharField(_("display name"), max_length=60, blank=True, default="")
    language = models.CharField(
        _("language"),
        max_length=10,
        default="zh-hans",
        choices=[("zh-hans", "简体中文"), ("en", "English")],
        help_text=_("Messages are sent in this language."),
    )

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=~models.Q(email=""), name="user_email_unique_ci"),
            models.UniqueConstraint(fields=["phone"], condition=~models.Q(phone=""), name="user_phone_unique"),
        ]

    def __str__(self):
        return self.username

    @property
    def shown_name(self):
        return self.display_name or self.username

    @property
    def masked_name(self):
        """How the user appears to merchants and other consumers when privacy matters."""
        name = self.shown_name
        return name[0] + "***" if len(name) <= 2 else name[0] + "***" + name[-1]
