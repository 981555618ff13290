"""Cache invalidation for CachedTokenAuthentication: a loose concern, hence signals."""

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from .authentication import token_cache_key


@receiver(post_delete, sender=Token, dispatch_uid="accounts.forget_deleted_token")
def forget_deleted_token(sender, instance, **kwargs):
    cache.delete(token_cache_key(instance.key))


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.forget_changed_user_tokens")
def forget_changed_user_tokens(sender, instance, **kwargs):
    keys = [token_cache_key(key) for key in Token.objects.filter(user=instance).values_list("key", flat=True)]
    if keys:
        cache.delete_many(keys)
