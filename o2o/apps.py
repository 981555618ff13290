from django.apps import AppConfig


class O2OConfig(AppConfig):
    """Shared helpers: errors, money, codes, rate limits, health check and the API plumbing."""

    name = "o2o"
    verbose_name = "Platform"
